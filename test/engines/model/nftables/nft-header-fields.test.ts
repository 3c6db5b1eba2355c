import { describe, expect, it } from "vitest";
import { countsInKernel, countsInModel, noteNftKernelSkip, nftKernelHere, nftKernelRequired, probeSegment, rulesetCountingEach } from "../../../helpers/nft-rule-counts.js";

/**
 * The UDP and TCP header fields nft names besides the ports and flags
 * (`udp length`, `tcp doff`, `tcp window`, ...), counted rule by rule over
 * segments and datagrams in the model and in the kernel (`nft -f` in a
 * network namespace).
 */
noteNftKernelSkip("header field");

const forms = ["udp length 12", "udp length < 20", "udp checksum != 0", "tcp doff 5", "tcp doff > 5", "tcp window 65535", "tcp sequence 1001", "tcp ackseq 0", "tcp urgptr 0"];
// Three SYNs (no options, an MSS, a window scale and timestamps), then two UDP datagrams.
const packets = [probeSegment(12, 0, 0x02), probeSegment(12, 1, 0x02, [2, 4, 5, 0xb4]), probeSegment(12, 2, 0x02, [3, 3, 7, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0]), probeSegment(12, 3, null), probeSegment(12, 4, null)];

describe("nftables udp and tcp header fields", () => {
  // Written down from the kernel's counts.
  const expected = [2, 2, 0, 1, 2, 3, 1, 3, 3];

  it("model: each field as nft_payload reads it", () => {
    expect(countsInModel(rulesetCountingEach(forms), forms, packets)).toEqual(expected);
  });

  it("names a field nft does not have", () => {
    expect(() => countsInModel(rulesetCountingEach(["udp flags 1"]), ["udp flags 1"], packets)).toThrow(/udp flags is not modelled \(sport, dport, length, checksum are/);
  });

  it.runIf(nftKernelHere || nftKernelRequired)("kernel: the same", () => {
    expect(countsInKernel(rulesetCountingEach(forms), packets)).toEqual(expected);
  });
});
