import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { defaultKernelSettings } from "../../../src/engines/model/kernel-settings.js";
import { performanceTimeOf, runStartAfter, wallClockNow } from "../../../src/engines/docker/run-start.js";

const jiffyUs = 1_000_000 / defaultKernelSettings.hz;

function timerList(): string | null {
  try {
    return readFileSync("/proc/timer_list", "utf8");
  } catch {
    return null;
  }
}

describe("a docker run's start", () => {
  it("falls on a kernel tick of CLOCK_MONOTONIC, after the slack, and gives the same moment on the epoch clock", () => {
    const before = process.hrtime.bigint();
    const epochBefore = Date.now();
    const start = runStartAfter(200, jiffyUs);
    const monotonic = BigInt(start.monotonicNs);
    expect(monotonic % BigInt(jiffyUs * 1000)).toBe(0n);
    expect(monotonic - before).toBeGreaterThanOrEqual(200_000_000n);
    expect(monotonic - before).toBeLessThan(200_000_000n + BigInt(jiffyUs * 1000) + 5_000_000n);
    expect(start.epochMs - epochBefore).toBeGreaterThanOrEqual(Number(monotonic - before) / 1e6 - 1);
    expect(start.epochMs - epochBefore).toBeLessThanOrEqual(Number(monotonic - before) / 1e6 + 2);
    expect(performanceTimeOf(start.monotonicNs) - performance.now()).toBeGreaterThan(150);
  });

  it("reads the wall clock as it is now, not as it was when the process started (a clock step in between)", () => {
    // A CI machine's clock stepped 20 s after the test process started: every NFLOG stamp of the
    // docker runs that followed sat 20 s away from its send.
    const realOrigin = performance.timeOrigin;
    Object.defineProperty(performance, "timeOrigin", { value: realOrigin - 20_000, configurable: true });
    try {
      const before = process.hrtime.bigint();
      const epochBefore = Date.now();
      const start = runStartAfter(0, jiffyUs);
      expect(Math.abs(start.epochMs - epochBefore - Number(BigInt(start.monotonicNs) - before) / 1e6)).toBeLessThan(3);
    } finally {
      delete (performance as { timeOrigin?: number }).timeOrigin;
    }
  });

  it("pairs the wall clock with the monotonic clock to well under a millisecond", () => {
    const samples = Array.from({ length: 5 }, () => wallClockNow());
    const offsets = samples.map((sample) => sample.epochMs - Number(sample.monotonicNs) / 1e6);
    expect(Math.max(...offsets) - Math.min(...offsets)).toBeLessThan(0.2);
  });

  // The start is only on the kernel's tick if the kernel ticks on multiples of TICK_NSEC.
  const list = timerList();
  it.skipIf(list === null)("matches this kernel: its last ticks sit on multiples of the jiffy", (context) => {
    const ticks = [...list!.matchAll(/\.last_tick\s*:\s*(\d+) nsecs/g)].map((match) => BigInt(match[1]!)).filter((tick) => tick > 0n);
    if (ticks.length === 0) context.skip("/proc/timer_list shows no last_tick (a periodic tick)");
    for (const tick of ticks) expect(tick % BigInt(jiffyUs * 1000)).toBe(0n);
  });
});
