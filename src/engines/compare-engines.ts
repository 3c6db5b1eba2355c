import type { Scenario } from "../scenario/scenario.js";
import { compareRuns, type RunComparison } from "../verdict/compare-runs.js";
import type { RunResult } from "../verdict/run-result.js";
import type { DockerEngine } from "./docker/docker-engine.js";
import { judgeRecorded } from "./model/judge-recorded.js";
import { ModelEngine } from "./model/model-engine.js";

export interface EngineComparison {
  readonly model: RunResult;
  readonly real: RunResult;
  readonly comparison: RunComparison;
}

/** The same scenario, seed and traffic on the model and in the kernel, compared packet by packet. */
export async function compareEngines(scenario: Scenario, docker: DockerEngine, seed?: number): Promise<EngineComparison> {
  const model = await new ModelEngine().run(scenario, { seed, keepPackets: true });
  const real = await docker.run(scenario, { seed, keepPackets: true });
  const placement = scenario.firewall.kind === "policy" ? scenario.firewall.policy.placement : "host";
  return { model, real, comparison: compareRuns(model, real, judgeRecorded(real, placement)) };
}
