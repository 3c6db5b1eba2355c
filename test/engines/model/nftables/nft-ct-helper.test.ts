import { describe, expect, it } from "vitest";
import { compileRulesetText } from "../../../../src/engines/model/compile-ruleset.js";
import { defaultKernelSettings } from "../../../../src/engines/model/kernel-settings.js";
import { firewallState } from "../../../../src/engines/model/netfilter/firewall-state.js";
import type { OracleSend } from "../../../helpers/kernel-oracle.js";
import { PBX } from "../../../helpers/firewall.js";
import { nftKernelHere, nftKernelRequired, noteNftKernelSkip } from "../../../helpers/nft-rule-counts.js";
import { judgeRouteInKernel, judgeRouteInModel } from "../../../helpers/route-oracle.js";

/**
 * `ct helper set "NAME"` with the table's `ct helper NAME { type "sip"
 * protocol udp; }`, as router firewalls assign the SIP helper: the helper
 * goes to a connection of its protocol before it is confirmed, the SIP
 * helper keeps a flow it saw a message on
 * for sip_timeout (3600 s) instead of UDP's 30 s, and `ct helper "sip"`
 * reads the helper of a connection's master, which only an expected
 * connection has (none here). Judged, counted and the
 * flows' timeouts read in the model and in the kernel (`nft -f` on a veth
 * pair in a network namespace, /proc/net/nf_conntrack).
 */
noteNftKernelSkip("ct helper");

const ruleset = `table inet t {
\tct helper sip-5060 {
\t\ttype "sip" protocol udp;
\t\tl3proto ip;
\t}
\tchain pre {
\t\ttype filter hook prerouting priority filter; policy accept;
\t\tudp dport 5060 ct helper set "sip-5060" counter
\t}
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tct status confirmed counter
\t\tct helper "sip" counter
\t\tct helper != "sip" counter
\t}
}
`;

const REGISTER = (cseq: number) => `REGISTER sip:${PBX} SIP/2.0\r\nCSeq: ${cseq} REGISTER\r\n\r\n`;
// A helped flow with messages, a helped flow whose datagram is empty (the helper leaves its timeout), a flow to another port (no helper).
const sends: OracleSend[] = [
  { src: "198.18.12.1", at: 0, payload: REGISTER(1) },
  { src: "198.18.12.1", at: 0.05, payload: REGISTER(2) },
  { src: "198.18.12.2", at: 0.1, payload: "" },
  { src: "198.18.12.3", at: 0.15, dport: 5070, payload: REGISTER(3) },
];
// Written down from the kernel.
const expected = {
  delivered: [true, true, true, true],
  // ct helper reads the helper of the connection's master (one a helper expected): none here, so neither form holds.
  counted: { "inet t pre:1": 3, "inet t input:1": 1, "inet t input:2": 0, "inet t input:3": 0 },
  udpTimeouts: { "198.18.12.1": 3600, "198.18.12.2": 30, "198.18.12.3": 30 },
};

describe("nftables ct helper", () => {
  it("model: the helper goes to new flows to 5060, and a helped flow with a message lasts sip_timeout", () => {
    const outcome = judgeRouteInModel(ruleset, sends, [5070], undefined, false, true);
    expect({ ...outcome, counted: Object.fromEntries(Object.keys(expected.counted).map((key) => [key, outcome.counted[key]])) }).toEqual(expected);
  });

  it("refuses a helper the table does not declare, or one the kernel does not have, as nft does", () => {
    const compile = (text: string) => () => compileRulesetText(text, "helper.nft", firewallState(defaultKernelSettings, [PBX]));
    expect(compile(ruleset.replace('ct helper set "sip-5060"', 'ct helper set "ftp-21"'))).toThrow(/no ct helper ftp-21 in this table/);
    expect(compile(ruleset.replace('type "sip" protocol udp', 'type "sipp" protocol udp'))).toThrow(/type "sipp" is no conntrack helper the kernel has/);
  });

  it.runIf(nftKernelHere || nftKernelRequired)("kernel: the same", () => {
    const outcome = judgeRouteInKernel(ruleset, sends, [5070], undefined, false, false, true);
    expect({ ...outcome, counted: Object.fromEntries(Object.keys(expected.counted).map((key) => [key, outcome.counted[key]])) }).toEqual(expected);
  });
});
