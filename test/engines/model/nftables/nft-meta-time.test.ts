import { describe, expect, it } from "vitest";
import { countsInKernel, countsInModel, noteNftKernelSkip, nftKernelHere, nftKernelRequired, probeSegment, rulesetCountingEach } from "../../../helpers/nft-rule-counts.js";

/**
 * `meta hour`, `meta day` and `meta time` (nft_meta.c) against the wall
 * clock, counted rule by rule in the model (its wall clock the real time,
 * as a run without `startsAt` has it) and in the kernel (`nft -f` with
 * TZ=UTC, as the lab's hosts have it). The windows are hours wide around
 * the time the test runs, so they hold whenever it runs but in the seconds
 * either side of a window's end.
 */
noteNftKernelSkip("meta time");

const now = new Date();
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const hourAt = (offsetHours: number) => `"${String((now.getUTCHours() + offsetHours + 24) % 24).padStart(2, "0")}:${String(now.getUTCMinutes()).padStart(2, "0")}"`;
const today = DAYS[now.getUTCDay()]!;
const tomorrow = DAYS[(now.getUTCDay() + 1) % 7]!;

const forms = [
  // Two hours either side of now (across midnight when now is near it).
  `meta hour ${hourAt(-2)}-${hourAt(2)}`,
  `meta hour ${hourAt(3)}-${hourAt(5)}`,
  `meta hour != ${hourAt(3)}-${hourAt(5)}`,
  // From two hours on round to two hours ago: the other twenty hours, never now.
  `meta hour ${hourAt(2)}-${hourAt(-2)}`,
  `meta hour ${hourAt(-1)}-${hourAt(-3)}`,
  `meta day "${today}"`,
  `meta day "${tomorrow}"`,
  `meta day { "${tomorrow}", "${today}" }`,
  'meta time > "2020-01-01"',
  'meta time < "2020-01-01 12:00"',
  `meta time "2020-01-01" - "2099-12-31 23:59:59"`,
];
const ruleset = rulesetCountingEach(forms);
const packets = [probeSegment(11, 0, null), probeSegment(11, 1, null)];

describe("nftables meta hour, day and time", () => {
  const expected = [2, 0, 2, 0, 2, 2, 0, 2, 2, 0, 2];

  it("model: each form against the wall clock", () => {
    expect(countsInModel(ruleset, forms, packets)).toEqual(expected);
  });

  it("names what it cannot read", () => {
    expect(() => countsInModel(rulesetCountingEach(['meta day "Funday"']), ['meta day "Funday"'], packets)).toThrow(/expected a day's name/);
    expect(() => countsInModel(rulesetCountingEach(['meta hour "25:00"']), ['meta hour "25:00"'], packets)).toThrow(/expected HH:MM/);
  });

  it.runIf(nftKernelHere || nftKernelRequired)("kernel: the same", () => {
    expect(countsInKernel(ruleset, packets)).toEqual(expected);
  });
});
