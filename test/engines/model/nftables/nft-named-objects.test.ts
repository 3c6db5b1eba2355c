import { describe, expect, it } from "vitest";
import { formatNftRuleset } from "../../../../src/firewall/nft/format-nft.js";
import { parseNftRuleset } from "../../../../src/firewall/nft/parse-nft.js";
import { countsInKernel, countsInModel, noteNftKernelSkip, nftKernelHere, nftKernelRequired, probeSegment } from "../../../helpers/nft-rule-counts.js";

/**
 * Named quota and limit objects (`quota NAME { ... }`, `limit NAME { ... }`)
 * and the rules that name them (`quota name "NAME"`, `limit name "NAME"`):
 * every rule naming one shares its bytes or its bucket. Counted rule by rule
 * in the model and in the kernel (`nft -f` in a network namespace).
 */
noteNftKernelSkip("named quota and limit");

const forms = [
  "ip saddr 198.18.9.1 limit name sip_burst",
  'ip saddr 198.18.9.2 limit name "sip_burst"',
  'quota name "sip_bytes"',
  "quota name sip_bytes",
  "limit name over_two",
];
const ruleset = `table inet t {
\tlimit sip_burst {
\t\trate 1/minute burst 3 packets
\t}
\tlimit over_two {
\t\trate over 1/minute burst 2 packets
\t}
\tquota sip_bytes {
\t\tuntil 200 bytes
\t}
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
${forms.map((form) => `\t\t${form} counter`).join("\n")}
\t}
}
`;

// Four UDP datagrams from each of two sources (32 bytes each, with their IP header).
const packets = Array.from({ length: 4 }, () => [probeSegment(9, 0, null), probeSegment(9, 1, null)]).flat();

describe("nftables named quotas and limits", () => {
  // Written down from the kernel's counts: the two sources share the burst of 3 (first come, first served), the two quota rules
  // consume one 200 bytes between them (three packets pass both, 6 x 32 bytes), the second limit passes what is over its burst.
  const expected = [2, 1, 3, 3, 6];

  it("model: the rules naming one object share it", () => {
    expect(countsInModel(ruleset, forms, packets)).toEqual(expected);
  });

  it("refuses an object the table does not declare", () => {
    expect(() => countsInModel(ruleset.replace('quota name "sip_bytes"', 'quota name "nothing"'), forms, packets)).toThrow(/quota name "?nothing"?: no quota/);
  });

  it.runIf(nftKernelHere || nftKernelRequired)("kernel: the same", () => {
    expect(countsInKernel(ruleset, packets)).toEqual(expected);
  });
});

/**
 * Byte rates (nft_limit_bytes_eval): a packet costs its length, and the
 * bucket holds the rate plus the burst. The datagrams are sent at once, so
 * only the bucket's size decides.
 */
describe("nftables byte rates", () => {
  const byteForms = [
    "limit rate 100 bytes/second burst 100 bytes",
    "limit rate over 100 bytes/second",
    "limit rate 1 kbytes/second",
    "update @per_source { ip saddr limit rate 64 bytes/second }",
    "limit rate 1 mbytes/second burst 1 mbytes",
  ];
  const byteRuleset = `table inet t {
\tset per_source { type ipv4_addr; flags dynamic; }
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
${byteForms.map((form) => `\t\t${form} counter`).join("\n")}
\t}
}
`;
  // Written down from the kernel's counts (each datagram 32 bytes): 200 bytes of bucket pass 6, 100 pass 3 (5 over), a kbyte all 8,
  // 64 bytes per source 2 each; nft refuses a burst in the other unit, as the model does.
  const byteExpected = [6, 5, 8, 4, 8];

  it("model: a packet costs its length", () => {
    expect(countsInModel(byteRuleset, byteForms, packets)).toEqual(byteExpected);
  });

  it("refuses a byte rate with a burst in packets, and the other way round, as nft does", () => {
    const refused = (form: string) => () => countsInModel(byteRuleset.replace(byteForms[0]!, form), byteForms, packets);
    expect(refused("limit rate 100 bytes/second burst 5 packets")).toThrow(/a byte rate's burst is in bytes/);
    expect(refused("limit rate 10/second burst 100 bytes")).toThrow(/a packet rate's burst is in packets/);
  });

  it.runIf(nftKernelHere || nftKernelRequired)("kernel: the same", () => {
    expect(countsInKernel(byteRuleset, packets)).toEqual(byteExpected);
  });
});

describe("nftables set gc-interval", () => {
  const withInterval = (flags: string) => `table inet t {\n\tset seen { type ipv4_addr; flags ${flags}; gc-interval 5s; }\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tupdate @seen { ip saddr } counter\n\t}\n}\n`;

  it("is read, and written back when the lab loads the ruleset", () => {
    expect(countsInModel(withInterval("dynamic, timeout"), ["update @seen { ip saddr }"], packets)).toEqual([8]);
    expect(formatNftRuleset(parseNftRuleset(withInterval("dynamic, timeout")))).toMatch(/gc-interval 5000ms/);
  });

  it("needs a set with timeouts, as the kernel refuses it otherwise (nft -f: Invalid argument)", () => {
    expect(() => countsInModel(withInterval("dynamic"), ["update @seen { ip saddr }"], packets)).toThrow(/gc-interval needs flags timeout/);
  });
});

