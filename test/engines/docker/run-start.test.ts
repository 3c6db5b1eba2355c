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
  // The references are read with wallClockNow too: a Date.now() beside an hrtime read is only as close
  // to it as the scheduler allows, and a loaded CI machine preempts between the two.
  it("falls on a kernel tick of CLOCK_MONOTONIC, after the slack, and gives the same moment on the epoch clock", () => {
    const before = wallClockNow();
    const start = runStartAfter(200, jiffyUs);
    const after = process.hrtime.bigint();
    const monotonic = BigInt(start.monotonicNs);
    expect(monotonic % BigInt(jiffyUs * 1000)).toBe(0n);
    expect(monotonic - before.monotonicNs).toBeGreaterThanOrEqual(200_000_000n);
    expect(monotonic - after).toBeLessThan(200_000_000n + BigInt(jiffyUs * 1000));
    const epochAdvanceMs = start.epochMs - before.epochMs;
    const monotonicAdvanceMs = Number(monotonic - before.monotonicNs) / 1e6;
    expect(Math.abs(epochAdvanceMs - monotonicAdvanceMs)).toBeLessThan(0.5);
    expect(performanceTimeOf(start.monotonicNs) - performance.now()).toBeGreaterThan(150);
  });

  it("reads the wall clock as it is now, not as it was when the process started (a clock step in between)", () => {
    // A CI machine's clock stepped 20 s after the test process started: every NFLOG stamp of the
    // docker runs that followed sat 20 s away from its send.
    const realOrigin = performance.timeOrigin;
    Object.defineProperty(performance, "timeOrigin", { value: realOrigin - 20_000, configurable: true });
    try {
      const before = wallClockNow();
      const start = runStartAfter(0, jiffyUs);
      const monotonicAdvanceMs = Number(BigInt(start.monotonicNs) - before.monotonicNs) / 1e6;
      expect(Math.abs(start.epochMs - before.epochMs - monotonicAdvanceMs)).toBeLessThan(0.5);
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
