import { openCapture } from "../../capture/read-capture.js";

/**
 * nfnetlink_log holds a group's records in the kernel until its buffer fills
 * or its flush timer fires: NFULNL_TIMEOUT_DEFAULT, 100 hundredths of a
 * second (net/netfilter/nfnetlink_log.c). The last records of a run reach
 * tcpdump that long after the last packet (measured: 1.00-1.04 s), plus a
 * jiffy and the read.
 */
export const NFLOG_FLUSH_MS = 1_000 + 100;
/** How long tcpdump may take to write the last verdict records the kernel counted. */
export const VERDICT_FLUSH_TIMEOUT_MS = 10_000;

export interface VerdictLogProbe {
  /** Records tcpdump has written so far. */
  written(): Promise<number>;
  /** Records the kernel's verdict-logging rules counted: the run's (counted when its traffic ended). */
  counted(): Promise<number>;
  now(): number;
  sleep(ms: number): Promise<void>;
}

/**
 * Waits until tcpdump has written every verdict record: as many as the
 * kernel's NFLOG rules counted, and no sooner than the kernel's flush timer
 * has sent the records it still held when the traffic ended. Stopping
 * tcpdump earlier loses the last packets' records (a packet whose first
 * record was sent and whose drop was held looks delivered). At the deadline
 * it gives up and says how many records the log still lacks (a firewall
 * container starved of CPU), rather than failing the run.
 */
export async function waitForVerdictLog(probe: VerdictLogProbe, trafficEndedMs: number, timeoutMs = VERDICT_FLUSH_TIMEOUT_MS): Promise<{ written: number; counted: number }> {
  const flushedAt = trafficEndedMs + NFLOG_FLUSH_MS;
  const deadline = Math.max(probe.now(), flushedAt) + timeoutMs;
  for (;;) {
    const now = probe.now();
    if (now >= flushedAt) {
      const written = await probe.written();
      const counted = await probe.counted();
      if (written >= counted || now >= deadline) return { written, counted };
    }
    await probe.sleep(Math.min(100, Math.max(1, flushedAt - now)));
  }
}

/** A probe of the lab's verdict log: tcpdump's file, and the run's records as `countedByKernel` gives them. */
export function verdictLogProbe(path: string, countedByKernel: () => Promise<number>): VerdictLogProbe {
  return {
    written: () => verdictRecordsWritten(path),
    counted: countedByKernel,
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

/** Records tcpdump has written so far (a file still growing ends mid-record, or before its header). */
async function verdictRecordsWritten(path: string): Promise<number> {
  let count = 0;
  try {
    for await (const _frame of await openCapture(path, { allowTruncated: true })) count += 1;
  } catch {
    // No file or no header yet.
  }
  return count;
}
