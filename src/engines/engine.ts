import type { Scenario } from "../scenario/scenario.js";
import type { RunResult } from "../verdict/run-result.js";
import type { KernelSettings } from "./model/kernel-settings.js";

export interface RunOptions {
  /** Overrides the scenario's seed. */
  readonly seed?: number;
  readonly kernel?: Partial<KernelSettings>;
  /** Keep every judged packet's bytes (for delivered/dropped pcaps); costs memory on big runs. */
  readonly keepPackets?: boolean;
  /**
   * Keep every verdict in the result (default). False: the model engine counts
   * outcomes as it goes and keeps none, so memory is bounded by sources and
   * addresses, not packets; for runs whose outputs need no verdicts.
   */
  readonly keepVerdicts?: boolean;
  /** Called now and then during a model run with virtual time and packets judged so far (a terminal's progress line). */
  readonly onProgress?: (progress: RunProgress) => void;
  /** The model's wall clock at virtual time 0 (ms since the epoch), when the scenario sets none: a docker run's, for comparing the two. */
  readonly wallClockStartMs?: number;
}

export interface RunProgress {
  readonly virtualUs: number;
  readonly durationUs: number;
  readonly packets: number;
}

export type { RunResult };

export interface Engine {
  readonly name: "model" | "docker";
  run(scenario: Scenario, options?: RunOptions): Promise<RunResult>;
}

/** The engine cannot run here (no Docker daemon, image build failed). */
export class EngineUnavailableError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}
