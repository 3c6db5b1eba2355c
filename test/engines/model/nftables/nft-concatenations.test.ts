import { describe, expect, it } from "vitest";
import { ipv4 } from "../../../helpers/capture-files.js";
import { PBX } from "../../../helpers/firewall.js";
import { countsInKernel, countsInModel, noteNftKernelSkip, nftKernelHere, nftKernelRequired, probeSegment } from "../../../helpers/nft-rule-counts.js";

/**
 * Concatenated keys (`ip saddr . udp dport`) in named sets, anonymous sets,
 * intervals per field, verdict maps, set statements and meters, counted
 * rule by rule in the model and in the kernel (`nft -f` in a network
 * namespace, the packets arriving on lo).
 */
noteNftKernelSkip("concatenation");

const forms = [
  "ip saddr . udp dport @allowed",
  "ip saddr . udp dport != @allowed",
  "ip saddr . th dport @ranges",
  "ip saddr . udp dport { 198.18.9.1 . 5060, 198.18.9.4 . 5062 }",
  "ip saddr . udp dport { 198.18.9.0/31 . 5060-5062 }",
  'iifname . ip saddr { "lo" . 198.18.9.1, "eth0" . 198.18.9.2 }',
  "ip saddr . udp dport @typed",
  "update @seen { ip saddr . udp dport timeout 1m }",
  "ip saddr . udp dport @seen",
  "meter perflow { ip saddr . udp dport limit rate over 2/minute burst 2 packets }",
  "ip saddr . udp dport vmap { 198.18.9.3 . 5060 : continue, 198.18.9.5 . 5060 : continue }",
  "ip daddr . ip saddr . udp dport @triple",
];
const ruleset = `table inet t {
\tset allowed { type ipv4_addr . inet_service; elements = { 198.18.9.1 . 5060, 198.18.9.2 . 5061 } }
\tset ranges { type ipv4_addr . inet_service; flags interval; elements = { 198.18.9.0/30 . 5060-5061, 198.18.9.5 . sip } }
\tset typed { typeof ip saddr . udp dport; elements = { 198.18.9.3 . 5060 } }
\tset seen { type ipv4_addr . inet_service; flags dynamic; timeout 1m; }
\tset triple { type ipv4_addr . ipv4_addr . inet_service; elements = { ${PBX} . 198.18.9.4 . 5062 } }
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
${forms.map((form) => `\t\t${form} counter`).join("\n")}
\t}
}
`;

/** A UDP datagram from 198.18.9.HOST to the PBX's port DPORT. */
function datagram(host: number, dport: number): Uint8Array {
  const udp = new Uint8Array(12);
  const view = new DataView(udp.buffer);
  view.setUint16(0, 5060);
  view.setUint16(2, dport);
  view.setUint16(4, udp.length);
  return ipv4(17, `198.18.9.${host}`, PBX, udp);
}

const packets = [
  datagram(1, 5060),
  datagram(1, 5060),
  datagram(1, 5060),
  datagram(1, 5060),
  datagram(2, 5061),
  datagram(2, 5060),
  datagram(3, 5060),
  datagram(4, 5062),
  datagram(5, 5060),
  datagram(6, 5061),
  // A TCP segment from an allowed address: udp dport is not there, so no concatenation with it holds (th dport does).
  probeSegment(9, 0, 0x02),
];

describe("nftables concatenations", () => {
  // Written down from the kernel's counts; the kernel half rechecks them wherever nft runs.
  const expected = [5, 5, 8, 5, 4, 5, 1, 10, 10, 2, 2, 1];

  it("model: each form counts the packets the kernel's concatenated lookups match", () => {
    expect(countsInModel(ruleset, forms, packets, "t", "lo")).toEqual(expected);
  });

  it("refuses a key that does not fit the set, and an element with too few fields", () => {
    const wrong = (form: string, sets: string) => () => countsInModel(`table inet t {\n${sets}\n\tchain input {\n\t\ttype filter hook input priority filter;\n\t\t${form} counter\n\t}\n}\n`, [form], packets);
    expect(wrong("ip saddr . udp dport @s", "\tset s { type ipv4_addr . ipv4_addr; }")).toThrow(/@s holds ipv4_addr \. ipv4_addr, and the concatenation is ipv4_addr \. inet_service/);
    expect(wrong("ip saddr @s", "\tset s { type ipv4_addr . inet_service; }")).toThrow(/@s holds ipv4_addr \. inet_service, and this is one field/);
    expect(wrong("ip saddr . udp dport 198.18.9.2 . 5061", "")).toThrow(/use concatenations with sets and maps, not singleton values/);
    expect(wrong("update @s { ip saddr }", "\tset s { type ipv4_addr . inet_service; flags dynamic; }")).toThrow(/join the fields with " \. "/);
    expect(wrong("ip saddr . udp dport @s", "\tset s { type ipv4_addr . inet_service; elements = { 198.18.9.1 } }")).toThrow(/expected 2 values joined by " \. " \(ipv4_addr \. inet_service\)/);
  });

  it.runIf(nftKernelHere || nftKernelRequired)("kernel: the same", () => {
    expect(countsInKernel(ruleset, packets)).toEqual(expected);
  });
});
