import { describe, expect, it } from "vitest";
import { countsInKernel, countsInModel, noteNftKernelSkip, nftKernelHere, nftKernelRequired, probeSegment, rulesetCountingEach } from "../../../helpers/nft-rule-counts.js";

/**
 * `tcp flags` in each form nft takes, counted rule by rule over TCP
 * segments with every flag combination a scan or a stack sends, in the
 * model and in the kernel (`nft -f` in a network namespace, the segments
 * sent to the namespace's own address through a raw socket).
 */
noteNftKernelSkip("tcp flags");

const forms = [
  "tcp flags syn",
  "tcp flags == syn",
  "tcp flags != syn",
  "tcp flags syn / syn,ack",
  "tcp flags & (fin|syn|rst|ack) == syn",
  "tcp flags { syn, syn|ack }",
  "tcp flags syn,ack",
  "tcp flags & (syn | ack) == syn|ack",
  "tcp flags != syn / syn,ack",
  "tcp flags & (fin|rst) != 0",
  "tcp dport 22 tcp flags ack",
];
const ruleset = rulesetCountingEach(forms);
/** SYN, SYN|ACK, ACK, FIN|ACK, RST, PSH|ACK, SYN|FIN, none, SYN with ECE and CWR, and a UDP datagram (no TCP header: every form breaks). */
const flagSets = [0x02, 0x12, 0x10, 0x11, 0x04, 0x18, 0x03, 0x00, 0xc2, -1];

const segments = flagSets.map((flags, index) => probeSegment(7, index, flags < 0 ? null : flags));



describe("nftables tcp flags", () => {
  // Written down from the kernel's counts; the kernel half rechecks them wherever nft runs.
  const expected = [4, 1, 8, 3, 2, 2, 7, 1, 6, 3, 4];

  it("model: each form counts the segments nft's compiled expression matches", () => {
    expect(countsInModel(ruleset, forms, segments)).toEqual(expected);
  });

  it.runIf(nftKernelHere || nftKernelRequired)("kernel: the same", () => {
    expect(countsInKernel(ruleset, segments)).toEqual(expected);
  });
});
