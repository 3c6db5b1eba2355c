import type { Engine, RunOptions } from "../engines/engine.js";
import { DockerEngine } from "../engines/docker/docker-engine.js";
import { ModelEngine } from "../engines/model/model-engine.js";
import { terminalProgress } from "./image-progress.js";
import type { RunReport } from "../report/run-report.js";
import type { Scenario } from "../scenario/scenario.js";
import { checkExpectations } from "../verdict/expectations.js";
import { computeOutcomes } from "../verdict/outcomes.js";
import { CommandLineError } from "./exit-codes.js";

export const engineNames = ["model", "docker"] as const;

export function engineNamed(name: string): Engine {
  if (name === "model") return new ModelEngine();
  if (name === "docker") return new DockerEngine(terminalProgress());
  throw new CommandLineError(`unknown engine "${name}": choose one of ${engineNames.join(", ")}`);
}

/** One scenario variant through an engine, then outcomes and expectations: the whole pipeline. */
export async function runScenario(scenario: Scenario, engine: Engine, options: RunOptions = {}): Promise<RunReport> {
  const result = await engine.run(scenario, options);
  const outcomes = computeOutcomes(result);
  const expectations = checkExpectations(scenario, outcomes);
  const firewall = scenario.firewall.kind === "policy" ? `policy ${scenario.firewall.policyName}` : `ruleset ${scenario.firewall.path}`;
  return { result, firewall, outcomes, expectations, passed: expectations.every((expectation) => expectation.passed) };
}
