import { describe, expect, it } from "vitest";
import { countsInKernel, countsInModel, noteNftKernelSkip, nftKernelHere, nftKernelRequired, probeSegment, rulesetCountingEach } from "../../../helpers/nft-rule-counts.js";

/**
 * `tcp option` (nft_exthdr.c) counted rule by rule over TCP segments with
 * the option lists stacks send, and the malformed ones a scanner may, in
 * the model and in the kernel (`nft -f` in a network namespace).
 */
noteNftKernelSkip("tcp option");

const forms = [
  // A PBX distribution's published ingress rule against tiny MSS values.
  "tcp flags syn tcp option maxseg size 1-535",
  "tcp option maxseg size 1460",
  "tcp option maxseg exists",
  "tcp option maxseg missing",
  "tcp option sack-perm exists",
  "tcp option window count > 7",
  "tcp option timestamp tsval 0x01020304",
  "tcp option maxseg length 4",
];

const MSS = (size: number) => [2, 4, size >> 8, size & 0xff];
/** Each segment's options; the last entry is a UDP datagram (no TCP header). */
const optionLists: Array<number[] | null> = [
  MSS(536),
  MSS(500),
  [1, 1, ...MSS(1460), 4, 2, 3, 3, 8, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0],
  [],
  [1, 1, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0],
  // An MSS whose length byte says 2: present, but its size lies outside it.
  [2, 2, 1, 1],
  // An MSS whose length runs past the header: nft finds it malformed, neither present nor read.
  [2, 40, 1, 0],
  // EOL does not end nft's walk: the MSS after it is found.
  [0, 2, 4, 1, 0x90, 0, 0, 0],
  // A zero length byte counts as one byte, so the walk goes on to the MSS.
  [9, 0, 1, 1, ...MSS(400)],
  null,
];

// The fifth is an ACK; the rest are SYNs.
const segments = optionLists.map((options, index) => (options === null ? probeSegment(8, index, null) : probeSegment(8, index, index === 4 ? 0x10 : 0x02, options)));
const ruleset = rulesetCountingEach(forms);

describe("nftables tcp option", () => {
  // Written down from the kernel's counts; the kernel half rechecks them wherever nft runs.
  const expected = [3, 1, 6, 4, 1, 1, 2, 5];

  it("model: each form counts the segments nft's exthdr expression matches", () => {
    expect(countsInModel(ruleset, forms, segments)).toEqual(expected);
  });

  it("names an option or field nft does not know, however it is spelled (an Object property's name is none)", () => {
    for (const form of ["tcp option constructor exists", "tcp option maxseg toString 4"]) {
      expect(() => countsInModel(rulesetCountingEach([form]), [form], segments)).toThrow(/tcp option (constructor is not modelled|maxseg toString is not a field of it)/);
    }
  });

  it.runIf(nftKernelHere || nftKernelRequired)("kernel: the same", () => {
    expect(countsInKernel(ruleset, segments)).toEqual(expected);
  });

  // MSS clamping as router firewalls write it: lowered, never raised; rules after it read the new size.
  const clamp = ["tcp option maxseg size set 1400", "tcp option maxseg size 1400", "tcp option maxseg size 1460", "tcp option maxseg size 536", "tcp option maxseg size 500"];
  const clamped = rulesetCountingEach(clamp, "c");
  // Written down from the kernel's counts: the two malformed MSS options (too short to hold a size, running past the header) and the
  // UDP datagram break the set; the 1460 becomes 1400, the 536 and the 500 stay, the rest have no MSS.
  const clampExpected = [7, 1, 0, 1, 1];

  it("model: tcp option maxseg size set lowers the MSS and later rules read it", () => {
    expect(countsInModel(clamped, clamp, segments, "c")).toEqual(clampExpected);
  });

  it.runIf(nftKernelHere || nftKernelRequired)("kernel: the same clamp", () => {
    expect(countsInKernel(clamped, segments)).toEqual(clampExpected);
  });
});
