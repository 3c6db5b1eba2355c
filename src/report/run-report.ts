import type { RunResult } from "../verdict/run-result.js";
import type { ExpectationResult } from "../verdict/expectations.js";
import type { SourceOutcome } from "../verdict/outcome.js";
import type { AttackOutcome } from "../verdict/attack-outcome.js";

/** A run with its outcomes and checked expectations: what every renderer reads. */
export interface RunReport {
  readonly result: RunResult;
  /** Policy name ("default", "custom") or the ruleset file the run used. */
  readonly firewall: string;
  readonly outcomes: readonly SourceOutcome[];
  /** Per attacking source, whether the attack worked: passwords found, extensions confirmed, requests that reached the PBX. */
  readonly attacks?: readonly AttackOutcome[];
  readonly expectations: readonly ExpectationResult[];
  readonly passed: boolean;
  /** The scenario file the run came from (built-ins too), for JUnit's file attribute. */
  readonly scenarioFile?: string;
  /** What the run cannot show, said before the results: rules of the user's ruleset that no packet of the scenario can match. */
  readonly warnings?: readonly string[];
}

export function runLabel(report: RunReport): string {
  return report.result.variant ? `${report.result.scenario} [${report.result.variant}]` : report.result.scenario;
}
