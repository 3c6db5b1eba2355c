import { describe, expect, it } from "vitest";
import type { OracleSend } from "../../../helpers/kernel-oracle.js";
import { countersNamed, judgeRouteInKernel, judgeRouteInModel, type RouteOutcome } from "../../../helpers/route-oracle.js";
import { nftKernelHere, nftKernelRequired, noteNftKernelSkip } from "../../../helpers/nft-rule-counts.js";

/**
 * nftables nat chains as a PBX host or its router has them (and what reads
 * their work: ct status; and the egress hook, after postrouting): each case's
 * datagrams judged over their whole way in by the model (the nat chains
 * run for a connection's first packet only, at the NAT core's place among
 * the hook's chains, and what they map is every later packet's), against
 * what the kernel decided for them (written down here, rechecked with `nft
 * -f` on a veth pair in a network namespace wherever root, unshare and nft
 * are there).
 */
noteNftKernelSkip("nat chain");

const cases: Array<{ name: string; ruleset: string; sends: OracleSend[]; listen?: number[]; reply?: boolean; neighbours?: boolean; kernel: RouteOutcome }> = [
  {
    name: "redirect sends port 5080 to 5060; the filter input chain sees 5060, and only a connection's first packet meets the nat chain (a dropped one never made its connection, so the next is a first packet again)",
    ruleset: `table ip nat {
\tchain prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tudp dport 5080 counter redirect to :5060
\t}
}
table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tudp dport 5080 counter drop
\t\tip saddr 10.0.0.2 udp dport 5060 counter drop
\t}
}
`,
    sends: [{ src: "10.0.0.1", dport: 5080 }, { src: "10.0.0.2", dport: 5080, at: 0.05 }, { src: "10.0.0.1", dport: 5080, at: 0.1 }, { src: "10.0.0.2", dport: 5080, at: 0.15 }],
    listen: [5060],
    kernel: { delivered: [true, false, true, false], counted: { "ip nat prerouting:1": 3, "inet filter input:1": 0, "inet filter input:2": 2 } },
  },
  {
    name: "a filter chain at priority -150 sees the packet before the NAT core rewrites it, one at 0 after",
    ruleset: `table inet t {
\tchain early {
\t\ttype filter hook prerouting priority -150; policy accept;
\t\tudp dport 5080 counter
\t\tudp dport 5060 counter
\t}
\tchain nat {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tip saddr 10.0.0.0/24 udp dport 5080 counter dnat ip to 198.51.100.10:5060
\t}
\tchain late {
\t\ttype filter hook prerouting priority 0; policy accept;
\t\tudp dport 5080 counter
\t\tudp dport 5060 counter
\t}
}
`,
    sends: [{ src: "10.0.0.1", dport: 5080 }, { src: "10.0.1.1", dport: 5080, at: 0.05 }, { src: "10.0.0.1", dport: 5080, at: 0.1 }],
    listen: [5060],
    kernel: { delivered: [true, true, true], counted: { "inet t early:1": 3, "inet t early:2": 0, "inet t nat:1": 1, "inet t late:1": 1, "inet t late:2": 2 } },
  },
  {
    name: "a dnat to another host forwards the packet (the forward chain, not input); snat in an input nat chain comes after the filter",
    ruleset: `table ip nat {
\tchain prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tip saddr 10.0.0.3 udp dport 5060 counter dnat to 192.0.2.50:5062
\t}
\tchain input {
\t\ttype nat hook input priority 100; policy accept;
\t\tip saddr 10.0.0.4 counter snat to 10.9.9.9
\t}
}
table ip filter {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tip saddr 10.9.9.9 counter drop
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy drop;
\t\tip daddr 192.0.2.50 udp dport 5062 counter accept
\t}
}
`,
    sends: [{ src: "10.0.0.3" }, { src: "10.0.0.4", at: 0.05 }, { src: "10.0.0.5", at: 0.1 }],
    kernel: {
      delivered: [false, true, true],
      counted: { "ip nat prerouting:1": 1, "ip nat input:1": 1, "ip filter input:1": 0, "ip filter forward:1": 1 },
    },
  },
  {
    name: "ct status and ct direction: dnat from the nat chain's mapping, confirmed and seen-reply from a connection's later packets, reply on the PBX's answers",
    ruleset: `table ip nat {
\tchain prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tudp dport 5080 redirect to :5060
\t}
}
table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tct status dnat counter
\t\tct status confirmed counter
\t\tct status seen-reply counter
\t\tct status assured counter
\t\tct direction original counter
\t\tct direction reply counter
\t\tct status != dnat counter
\t\tct status { snat, dnat } counter
\t\tct status & dnat == dnat counter
\t\tct status dnat,snat counter
\t}
\tchain output {
\t\ttype filter hook output priority filter; policy accept;
\t\tct direction reply counter
\t\tct status seen-reply counter
\t\tct status confirmed counter
\t}
}
`,
    sends: [
      { src: "10.0.0.1", dport: 5080, at: 0, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n" },
      { src: "10.0.0.2", at: 0.1, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 2 REGISTER\r\n\r\n" },
      { src: "10.0.0.1", dport: 5080, at: 0.2, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 3 REGISTER\r\n\r\n" },
      { src: "10.0.0.2", at: 0.3, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 4 REGISTER\r\n\r\n" },
    ],
    listen: [5060],
    reply: true,
    kernel: {
      delivered: [true, true, true, true],
      counted: {
        "inet filter input:1": 2,
        "inet filter input:2": 2,
        "inet filter input:3": 2,
        "inet filter input:4": 0,
        "inet filter input:5": 4,
        "inet filter input:6": 0,
        // Both as the kernel reads a bitmask: != compares the whole status word, a set looks it up whole.
        "inet filter input:7": 4,
        "inet filter input:8": 0,
        "inet filter input:9": 2,
        "inet filter input:10": 2,
        "inet filter output:1": 4,
        "inet filter output:2": 4,
        "inet filter output:3": 4,
      },
    },
  },
  {
    name: "a netdev egress chain sees what leaves its device after postrouting: the PBX's answers, one of them dropped there",
    ruleset: `table netdev edge {
\tchain out {
\t\ttype filter hook egress device "eth0" priority 0; policy accept;
\t\tudp sport 5060 counter
\t\tip daddr 10.0.0.2 udp sport 5060 counter drop
\t}
}
table inet filter {
\tchain output {
\t\ttype filter hook output priority filter; policy accept;
\t\tudp sport 5060 counter
\t}
}
`,
    sends: [
      { src: "10.0.0.1", at: 0, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n" },
      { src: "10.0.0.2", at: 0.1, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 2 REGISTER\r\n\r\n" },
      { src: "10.0.0.1", at: 0.2, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 3 REGISTER\r\n\r\n" },
    ],
    reply: true,
    neighbours: true,
    kernel: { delivered: [true, true, true], counted: { "netdev edge out:1": 3, "netdev edge out:2": 1, "inet filter output:1": 3 } },
  },
];

describe("nftables nat chains, ct status and the egress hook", () => {
  for (const { name, ruleset, sends, listen = [], reply = false, neighbours = false, kernel } of cases) {
    const keys = Object.keys(kernel.counted);
    it(`model: ${name}`, () => {
      expect(countersNamed(judgeRouteInModel(ruleset, sends, listen, undefined, reply), keys)).toEqual(kernel);
    });
    it.runIf(nftKernelHere || nftKernelRequired)(`kernel: ${name}`, () => {
      expect(countersNamed(judgeRouteInKernel(ruleset, sends, listen, undefined, reply, reply, false, neighbours), keys)).toEqual(kernel);
    });
  }

  it("refuses what it cannot map, by name: ranges, maps, random ports, IPv6 NAT, a nat statement in a filter chain", () => {
    const chain = (type: string, rule: string) => `table ip t {\n\tchain c {\n\t\ttype ${type} hook prerouting priority dstnat; policy accept;\n\t\t${rule}\n\t}\n}\n`;
    const judged = (ruleset: string) => () => judgeRouteInModel(ruleset, [{ src: "10.0.0.1" }]);
    expect(judged(chain("nat", "dnat to 192.0.2.1-192.0.2.5"))).toThrow(/one address and at most one port/);
    expect(judged(chain("nat", "dnat to ip saddr map { 10.0.0.1 : 192.0.2.1 }"))).toThrow(/dnat to ip/);
    expect(judged(chain("nat", "redirect to :5060-5070"))).toThrow(/one port/);
    expect(judged(chain("nat", "masquerade random"))).toThrow(/random port/);
    expect(judged(chain("filter", "dnat to 192.0.2.1"))).toThrow(/dnat belongs in a type nat chain/);
  });
});
