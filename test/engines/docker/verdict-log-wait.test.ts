import { describe, expect, it } from "vitest";
import { NFLOG_FLUSH_MS, waitForVerdictLog, type VerdictLogProbe } from "../../../src/engines/docker/verdict-log-wait.js";

/** A lab in virtual time: the kernel logs `total` records, the last `held` of them reach tcpdump at `flushAt`. */
function lab(options: { total: number; held: number; flushAt: number; countedShort?: number }): VerdictLogProbe & { stoppedAt: () => number } {
  let clock = 0;
  return {
    written: async () => (clock >= options.flushAt ? options.total : options.total - options.held),
    counted: async () => options.total - (clock < options.flushAt ? (options.countedShort ?? 0) : 0),
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
    },
    stoppedAt: () => clock,
  };
}

describe("waiting for the lab's verdict log", () => {
  it("does not stop tcpdump before the kernel's flush timer has sent the records it held, even when the counters seem to agree", async () => {
    // The last packet's drop is held in the kernel until its flush timer; a count read short agrees with the file early.
    const probe = lab({ total: 802, held: 2, flushAt: 10_000 + 1_000, countedShort: 2 });
    await waitForVerdictLog(probe, 10_000);
    expect(probe.stoppedAt()).toBeGreaterThanOrEqual(10_000 + NFLOG_FLUSH_MS);
    expect(await probe.written()).toBe(802);
  });

  it("goes on once every counted record is written", async () => {
    const probe = lab({ total: 50, held: 0, flushAt: 0 });
    await waitForVerdictLog(probe, 0);
    expect(probe.stoppedAt()).toBeLessThanOrEqual(NFLOG_FLUSH_MS + 100);
  });

  it("gives up at its deadline and says how many records the log lacks", async () => {
    const probe = lab({ total: 802, held: 2, flushAt: Number.POSITIVE_INFINITY });
    expect(await waitForVerdictLog(probe, 0, 10_000)).toEqual({ written: 800, counted: 802 });
    expect(probe.stoppedAt()).toBe(NFLOG_FLUSH_MS + 10_000);
  });
});
