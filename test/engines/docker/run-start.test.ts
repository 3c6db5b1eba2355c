import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { defaultKernelSettings } from "../../../src/engines/model/kernel-settings.js";
import { performanceTimeOf, runStartAfter } from "../../../src/engines/docker/run-start.js";

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
    const epochBefore = performance.timeOrigin + performance.now();
    const start = runStartAfter(200, jiffyUs);
    const monotonic = BigInt(start.monotonicNs);
    expect(monotonic % BigInt(jiffyUs * 1000)).toBe(0n);
    expect(monotonic - before).toBeGreaterThanOrEqual(200_000_000n);
    expect(monotonic - before).toBeLessThan(200_000_000n + BigInt(jiffyUs * 1000) + 5_000_000n);
    expect(start.epochMs - epochBefore).toBeCloseTo(Number(monotonic - before) / 1e6, 0);
    expect(performanceTimeOf(start.monotonicNs) - performance.now()).toBeGreaterThan(150);
  });

  // The start is only on the kernel's tick if the kernel ticks on multiples of TICK_NSEC.
  const list = timerList();
  it.skipIf(list === null)("matches this kernel: its last ticks sit on multiples of the jiffy", (context) => {
    const ticks = [...list!.matchAll(/\.last_tick\s*:\s*(\d+) nsecs/g)].map((match) => BigInt(match[1]!)).filter((tick) => tick > 0n);
    if (ticks.length === 0) context.skip("/proc/timer_list shows no last_tick (a periodic tick)");
    for (const tick of ticks) expect(tick % BigInt(jiffyUs * 1000)).toBe(0n);
  });
});
