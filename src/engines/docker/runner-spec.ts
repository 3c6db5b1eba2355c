import type { Scenario } from "../../scenario/scenario.js";

/** What one traffic container runs: the scenario, its share of the sources, and the shared start time. */
export interface RunnerSpec {
  readonly name: string;
  readonly scenario: Scenario;
  readonly sources: readonly string[];
  /** Wall-clock start of the run (ms since the epoch): every container schedules from it. */
  readonly t0EpochMs: number;
  readonly endUs: number;
  readonly seed: number;
  /** Directory (inside the container) for the logs. */
  readonly out: string;
}

/** One datagram a runner sent, for joining with the firewall's verdict log. */
export interface SendRecord {
  readonly source: string;
  readonly agent: string;
  /** When the schedule said, and when it went out, in µs since t0. */
  readonly scheduledUs: number;
  readonly sentUs: number;
  /**
   * When the send call returned. A UDP datagram to the lab passes the firewall
   * inside that call (veth delivery runs in the sender's softirq), so this is
   * the best clock for when the kernel judged it.
   */
  kernelUs?: number;
  readonly src: string;
  readonly sport: number;
  readonly dst: string;
  readonly dport: number;
  /** sha1 of the UDP payload (hex, first 16). */
  readonly hash: string;
  readonly callId: string | null;
  /** Scheduled (a timer) or a reaction to a reply (no schedule to miss). */
  readonly paced: boolean;
}
