import { describe, expect, it } from "vitest";
import { RulesetError } from "../../../../src/firewall/ruleset.js";
import { firewallOf, udpPacket } from "../../../helpers/firewall.js";

const packet = udpPacket("198.18.1.1");

describe("chain traversal as ipt_do_table runs it", () => {
  it("falls through a user chain back to the caller, and RETURN leaves it early", () => {
    const firewall = firewallOf(
      `-A INPUT -j CHECK
-A INPUT -j DROP
-A CHECK -s 198.18.1.1/32 -j RETURN
-A CHECK -j ACCEPT`,
      {},
      ":CHECK - [0:0]\n",
    );
    const judgement = firewall.judge(packet, 0);
    expect(judgement.accepted).toBe(false);
    expect(judgement.rule).toMatchObject({ chain: "INPUT", index: 2, target: "DROP" });
    expect(firewall.judge(udpPacket("198.18.1.2"), 0).rule).toMatchObject({ chain: "CHECK", index: 2 });
  });

  it("goto does not come back: RETURN in a goto'd chain returns to the chain that jumped before it", () => {
    const firewall = firewallOf(
      `-A INPUT -j A
-A INPUT -j ACCEPT
-A A -g B
-A A -j DROP
-A B -j RETURN`,
      {},
      ":A - [0:0]\n:B - [0:0]\n",
    );
    expect(firewall.judge(packet, 0).rule).toMatchObject({ chain: "INPUT", index: 2, target: "ACCEPT" });
  });

  it("the built-in chain's policy decides when no rule does", () => {
    const firewall = firewallOf("-A INPUT -s 198.18.9.9 -j ACCEPT");
    expect(firewall.judge(packet, 0)).toMatchObject({ accepted: true, rule: { chain: "INPUT", index: 0 } });
  });

  it("LOG and NFLOG do not stop traversal; REJECT is a drop for the PBX", () => {
    const firewall = firewallOf(`-A INPUT -j LOG --log-prefix "seen "
-A INPUT -j NFLOG --nflog-group 1
-A INPUT -j REJECT --reject-with icmp-port-unreachable`);
    expect(firewall.judge(packet, 0)).toMatchObject({ accepted: false, rule: { index: 3, target: "REJECT" } });
    const counters = firewall.counters();
    expect(counters.filter((counter) => counter.chain === "INPUT" && counter.index > 0).map((counter) => counter.packets)).toEqual([1, 1, 1]);
  });

  it("matches addresses with masks and !, interfaces, protocols and ports", () => {
    const firewall = firewallOf(`-A INPUT ! -s 198.18.0.0/16 -j ACCEPT
-A INPUT -i eth1 -j ACCEPT
-A INPUT -p tcp -j ACCEPT
-A INPUT -p udp -m multiport --dports 5061,6000:6010 -j ACCEPT
-A INPUT -p udp -m udp ! --sport 5060 -j ACCEPT
-A INPUT -d 198.51.100.10/255.255.255.255 -j DROP`);
    expect(firewall.judge(udpPacket("198.19.1.1"), 0).rule.index).toBe(1);
    expect(firewall.judge(udpPacket("198.18.1.1", "x", { dport: 6005 }), 0).rule.index).toBe(4);
    expect(firewall.judge(udpPacket("198.18.1.1", "x", { sport: 5070 }), 0).rule.index).toBe(5);
    expect(firewall.judge(packet, 0).rule.index).toBe(6);
  });

  it("a rule without a target only counts", () => {
    const firewall = firewallOf("-A INPUT -s 198.18.1.1\n-A INPUT -j DROP");
    firewall.judge(packet, 0);
    expect(firewall.counters()[0]).toMatchObject({ chain: "INPUT", index: 1, packets: 1 });
  });
});

describe("what the model refuses, naming the construct", () => {
  it("an unknown match module", () => {
    expect(() => firewallOf("-A INPUT -m geoip --src-cc CN -j DROP")).toThrow(/geoip/);
  });

  it("a jump to a chain that is not declared", () => {
    expect(() => firewallOf("-A INPUT -j NOWHERE")).toThrow(RulesetError);
  });

  it("a chain loop, which iptables-restore also rejects", () => {
    expect(() => firewallOf("-A INPUT -j A\n-A A -j B\n-A B -j A", {}, ":A - [0:0]\n:B - [0:0]\n")).toThrow(/loop/i);
  });
});
