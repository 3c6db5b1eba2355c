import type { Scenario } from "../../scenario/scenario.js";

/**
 * What one traffic container runs: the scenario and its share of the sources.
 * The runner loads it, binds its sockets, writes its ready file, and waits for
 * the start file, which the engine writes once every runner is ready.
 */
export interface RunnerSpec {
  readonly name: string;
  readonly scenario: Scenario;
  readonly sources: readonly string[];
  /** Send planned packets early in their jiffies (planned-send-time.ts), or at their scheduled times. */
  readonly aimWithinJiffies: boolean;
  readonly endUs: number;
  readonly seed: number;
  /** Directory (inside the container) for the logs. */
  readonly out: string;
}

/** The start file: when the run's time 0 is, for every runner. */
export interface RunnerStart {
  /** CLOCK_MONOTONIC in ns, on a kernel tick (run-start.ts). */
  readonly t0MonotonicNs: string;
}

export const START_FILE = "start.json";
export const readyFile = (runner: string) => `${runner}.ready`;
export const doneFile = (runner: string) => `${runner}.done`;

/** One datagram a runner sent, for joining with the firewall's verdict log. */
export interface SendRecord {
  readonly source: string;
  readonly agent: string;
  /** When the schedule said, when the runner aimed to send it (early in that jiffy), and when it went out, in µs since t0. */
  readonly scheduledUs: number;
  readonly aimedUs: number;
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
  /** A write to a TCP (or TLS) connection from src:sport: its segments, the handshake's and the ACKs are that connection's. */
  readonly transport?: "tcp" | "tls";
  /** A write to a connection: the SIP requests it held. */
  readonly requests?: number;
}
