import { describe, expect, it } from "vitest";
import type { OracleSend } from "../../../helpers/kernel-oracle.js";
import { judgeRouteInKernel, judgeRouteInModel } from "../../../helpers/route-oracle.js";
import { nftKernelHere, nftKernelRequired, noteNftKernelSkip } from "../../../helpers/nft-rule-counts.js";
import { ASSURED_FLOOD, FRESH_FLOW_PACKETS, LATE_FLOWS, LONG_REGISTER, SEVEN_FLOW_PACKETS, spaced } from "../../../helpers/connection-flows.js";

/**
 * `ct count` (nft_connlimit) counts connections, a UDP flow one per source
 * port: alone in a rule (one list for the rule), and in a set statement or
 * meter (a list per element, per source). Each case's datagrams are judged
 * with conntrack by the model against what the kernel decided (written down
 * here, rechecked with `nft -f` on a veth pair in a network namespace
 * wherever root, unshare and nft are there). The datagrams are spaced
 * beyond two jiffies, so no case depends on which CPU the kernel ran them on,
 * and in a set's cases no flow the rule dropped is met again, so none
 * depends on when the set's gc worker (every second, at the kernel's phase)
 * pruned it; the gc case leaves it two seconds.
 */
noteNftKernelSkip("ct count");

const table = (rules: string, sets = "") => `table inet t {\n${sets}\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n${rules}\t}\n}\n`;

const cases: Array<{ name: string; ruleset: string; sends: OracleSend[]; reply?: boolean; delivered: boolean[] }> = [
  {
    name: "a meter counts each source's flows: the third from one address is over 2, and so is every new one after it",
    ruleset: table("\t\tudp dport 5060 meter flows { ip saddr ct count over 2 } counter drop\n"),
    sends: [...FRESH_FLOW_PACKETS],
    delivered: [true, true, false, false, true, false],
  },
  {
    name: "a dynamic set with ct count in its statement counts as a meter does",
    ruleset: table("\t\tudp dport 5060 add @flows { ip saddr ct count over 2 } counter drop\n", "\tset flows { type ipv4_addr; flags dynamic; }\n"),
    sends: [...FRESH_FLOW_PACKETS],
    delivered: [true, true, false, false, true, false],
  },
  {
    name: "ct count alone keeps one list for the rule: every source's flows together",
    ruleset: table("\t\tudp dport 5060 ct count over 2 counter drop\n"),
    sends: [...SEVEN_FLOW_PACKETS],
    delivered: [true, true, false, false, false, false, false],
  },
  {
    name: "ct count without over holds while the count is at most N",
    ruleset: table("\t\tudp dport 5060 meter upto { ip saddr ct count 1 } counter accept\n\t\tudp dport 5060 counter drop\n"),
    sends: [...FRESH_FLOW_PACKETS],
    delivered: [true, false, false, false, true, false],
  },
  {
    name: "a flow whose first packet went past the rule is counted when a later packet reaches it; a dropped first packet is evicted by a later walk",
    ruleset: table("\t\tudp dport 5060 meta length 0-80 accept\n\t\tudp dport 5060 meter late { ip saddr ct count over 1 } counter drop\n"),
    sends: spaced([...LATE_FLOWS, { src: "203.0.113.5", sport: 5003, payload: LONG_REGISTER }, { src: "203.0.113.5", sport: 5001, payload: LONG_REGISTER }]),
    delivered: [true, true, true, false, false, false, false],
  },
  {
    // Two seconds after the stale flow, so the kernel's worker (queued every second, on a busy machine late) has run whatever its phase.
    name: "the set's gc worker (every second) prunes a stale flow the walks stopped short of, so a source's one flow is under the limit again",
    ruleset: table("\t\tmeta l4proto udp meter pruned { ip saddr & 255.255.255.0 ct count over 1 } counter drop\n"),
    sends: [...Array.from({ length: 6 }, (_, index) => ({ src: "198.18.1.16", at: index * 0.15 })), { src: "198.18.1.13", at: 0.8 }, { src: "198.18.1.16", at: 2.9 }, { src: "198.18.1.16", at: 3.0 }].map((send, index) => ({
      ...send,
      payload: `REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: ${index + 1} REGISTER\r\n\r\n`,
    })),
    delivered: [true, true, true, true, true, true, false, true, true],
  },
  {
    name: "once a replied flow is ASSURED its packets add nothing and prune the stale flows of the rule's list",
    ruleset: table("\t\tmeta l4proto udp ct count over 1 counter drop\n"),
    sends: [...ASSURED_FLOOD],
    reply: true,
    delivered: [true, true, true, true, true, true, false, false, false, false, false, false, false, false, false, false, true, true, true, true, false, true, true],
  },
];

describe("nftables ct count", () => {
  for (const { name, ruleset, sends, reply = false, delivered } of cases) {
    it(`model: ${name}`, () => {
      expect(judgeRouteInModel(ruleset, sends, [], undefined, reply).delivered).toEqual(delivered);
    });
    it.runIf(nftKernelHere || nftKernelRequired)(`kernel: ${name}`, () => {
      expect(judgeRouteInKernel(ruleset, sends, [], undefined, reply, reply).delivered).toEqual(delivered);
    });
  }
});
