/**
 * The moment a docker run's traffic starts, on both of the host's clocks.
 *
 * The kernel ticks at multiples of TICK_NSEC on CLOCK_MONOTONIC
 * (tick_init_jiffy_update aligns the tick; /proc/timer_list's last_tick shows
 * it), and containers share that clock. Starting on a tick makes the run's
 * jiffy k the kernel's: [4k ms, 4k+4 ms) at HZ 250, as the model counts.
 */
export interface RunStart {
  /** CLOCK_MONOTONIC in ns (decimal: JSON has no bigint), a multiple of the tick. */
  readonly monotonicNs: string;
  /** The same moment in ms since the epoch (fractional), for the NFLOG log's wall-clock stamps. */
  readonly epochMs: number;
}

export function runStartAfter(slackMs: number, jiffyUs: number): RunStart {
  const { monotonicNs: monotonicNow, epochMs: epochNowMs } = wallClockNow();
  const jiffyNs = BigInt(jiffyUs * 1000);
  const earliest = monotonicNow + BigInt(slackMs) * 1_000_000n;
  const start = ((earliest + jiffyNs - 1n) / jiffyNs) * jiffyNs;
  return { monotonicNs: String(start), epochMs: epochNowMs + Number(start - monotonicNow) / 1e6 };
}

/**
 * The wall clock now, to a few µs, with CLOCK_MONOTONIC at the same moment.
 * performance.timeOrigin is the wall clock when the process started: after
 * a clock step (a CI machine's NTP sync 20 s into the test run), it put every
 * NFLOG stamp of a run 20 s away from its send. Date.now() reads the clock
 * afresh but only to the ms, so this waits for it to turn over to the next
 * ms and pairs that edge with the monotonic clock. The edge lies between two
 * reads of Date.now(); a loaded machine can preempt the process between them
 * (a CI run measured 0.29 ms), so a pairing whose reads sit further apart
 * than PAIRING_BRACKET_NS is taken again at the next ms, keeping the
 * tightest of a few.
 */
export function wallClockNow(): { monotonicNs: bigint; epochMs: number } {
  let best = pairAtNextMs();
  for (let attempt = 1; attempt < PAIRING_ATTEMPTS && best.bracketNs > PAIRING_BRACKET_NS; attempt++) {
    const next = pairAtNextMs();
    if (next.bracketNs < best.bracketNs) best = next;
  }
  return { monotonicNs: best.monotonicNs, epochMs: best.epochMs };
}

const PAIRING_BRACKET_NS = 20_000n;
const PAIRING_ATTEMPTS = 25;

/**
 * One pairing: the ms edge falls between the Date.now() call that last saw
 * the old ms and the one that saw the new; the monotonic reads just before
 * the first and just after the second bracket it, and it is placed midway.
 */
function pairAtNextMs(): { monotonicNs: bigint; epochMs: number; bracketNs: bigint } {
  let before = process.hrtime.bigint();
  const first = Date.now();
  for (;;) {
    const beforeThisRead = process.hrtime.bigint();
    const epochMs = Date.now();
    const after = process.hrtime.bigint();
    if (epochMs !== first) return { monotonicNs: (before + after) / 2n, epochMs, bracketNs: after - before };
    before = beforeThisRead;
  }
}

/** performance.now() (ms) at a moment given on CLOCK_MONOTONIC: both count from the same clock. */
export function performanceTimeOf(monotonicNs: string): number {
  return performance.now() + Number(BigInt(monotonicNs) - process.hrtime.bigint()) / 1e6;
}

/** How far the wall clock moved against CLOCK_MONOTONIC since a run's start (ms): an NTP step, or slewing. */
export function wallClockMovedMs(start: RunStart): number {
  const now = wallClockNow();
  return now.epochMs - start.epochMs - Number(now.monotonicNs - BigInt(start.monotonicNs)) / 1e6;
}
