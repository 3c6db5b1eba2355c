import { describe, expect, it } from "vitest";
import { natConnections, natKey } from "../../../src/engines/docker/nat-connections.js";

describe("a NAT router's TCP connections, from its conntrack table", () => {
  // /proc/net/nf_conntrack as Linux 6.18 lists it in an office's NAT container: two phones' LAN port 5060, one to
  // the PBX's TCP port and one to its TLS port, MASQUERADE keeping 5060 for both (the PBX ports differ), a third
  // given another port; UDP entries are not connections.
  const listing = [
    "ipv4     2 tcp      6 431998 ESTABLISHED src=192.0.2.2 dst=198.51.100.10 sport=5060 dport=5060 src=198.51.100.10 dst=198.18.30.1 sport=5060 dport=5060 [ASSURED] mark=0 zone=0 use=2",
    "ipv4     2 tcp      6 431998 ESTABLISHED src=192.0.2.3 dst=198.51.100.10 sport=5060 dport=5061 src=198.51.100.10 dst=198.18.30.1 sport=5061 dport=5060 [ASSURED] mark=0 zone=0 use=2",
    "ipv4     2 tcp      6 118 SYN_SENT src=192.0.2.4 dst=198.51.100.10 sport=5060 dport=5060 [UNREPLIED] src=198.51.100.10 dst=198.18.30.1 sport=5060 dport=40123 mark=0 zone=0 use=2",
    "ipv4     2 udp      17 29 src=192.0.2.5 dst=198.51.100.10 sport=5060 dport=5060 src=198.51.100.10 dst=198.18.30.1 sport=5060 dport=5060 mark=0 zone=0 use=2",
  ].join("\n");

  it("names the LAN socket behind each public end, told apart by the PBX's port", () => {
    const lanByPublic = natConnections([listing, ""]);
    expect(lanByPublic.get(natKey("198.18.30.1", 5060, 5060))).toBe("192.0.2.2:5060");
    expect(lanByPublic.get(natKey("198.18.30.1", 5060, 5061))).toBe("192.0.2.3:5060");
    expect(lanByPublic.get(natKey("198.18.30.1", 40123, 5060))).toBe("192.0.2.4:5060");
    expect(lanByPublic.size).toBe(3);
  });
});
