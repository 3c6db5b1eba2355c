import { describe, expect, it } from "vitest";
import { describeMatchState } from "../../../../src/engines/model/netfilter/describe-state.js";
import { HZ, START, contextAt, firewallOf, udpPacket } from "../../../helpers/firewall.js";

// What `slamlab diff` prints beside a disagreeing packet: the window or bucket that decided it.
describe("describing the matches' state for one packet", () => {
  it("shows the source's xt_recent stamps as seconds before the packet, newest first", () => {
    const firewall = firewallOf("-A INPUT -m recent --name SIP --update --seconds 60 --hitcount 5 -j DROP\n-A INPUT -m recent --name SIP --set");
    const phone = udpPacket("198.18.5.1");
    for (const atJiffies of [0, HZ, 2 * HZ]) firewall.accepts(phone, atJiffies);
    firewall.accepts(udpPacket("198.18.5.2"), 0);
    expect(describeMatchState(firewall.state, phone, contextAt(START + 3 * HZ))).toEqual(["recent SIP: 198.18.5.1 seen 1.000, 2.000, 3.000 s ago (2 entries)"]);
    expect(describeMatchState(firewall.state, udpPacket("198.18.5.9"), contextAt(START + 3 * HZ))).toEqual(["recent SIP: 198.18.5.9 not listed (2 entries)"]);
  });

  it("shows the packet's hashlimit bucket refilled to its time, in packets against the burst", () => {
    const firewall = firewallOf("-A INPUT -m hashlimit --hashlimit-above 10/minute --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name SIP -j DROP");
    const bot = udpPacket("198.18.5.3");
    for (let i = 0; i < 5; i++) firewall.accepts(bot, 0);
    // 10/minute refills one packet's credit every 6 s.
    expect(describeMatchState(firewall.state, bot, contextAt(START + 3 * HZ))).toEqual(["hashlimit SIP: 0.50 of 5 packets' credit, last packet 3.000 s ago (1 bucket)"]);
    expect(describeMatchState(firewall.state, udpPacket("198.18.5.4"), contextAt(START + 3 * HZ))[0]).toMatch(/no bucket for this packet, a new one starts full \(5 packets/);
  });

  it("shows a global limit's tokens, nftables' nanosecond bucket as iptables-nft loads it", () => {
    const firewall = firewallOf("-A INPUT -m limit --limit 2/second --limit-burst 4 -j ACCEPT\n-A INPUT -j DROP");
    for (let i = 0; i < 4; i++) firewall.acceptsAtMs(udpPacket(`198.18.6.${i + 1}`), 0);
    const context = { ...contextAt(START + HZ / 4), clockNs: 250_000_000 };
    expect(describeMatchState(firewall.state, udpPacket("198.18.6.9"), context)).toEqual(["limit (line 5): 0.50 of 4 packets' tokens"]);
  });
});
