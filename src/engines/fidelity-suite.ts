import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { randomScenario, writeRandomScenario } from "../scenario/random-scenario.js";
import { listBuiltinScenarios } from "../scenario/catalogue.js";
import { loadScenario, withFirewallFormat } from "../scenario/load-scenario.js";
import type { Disagreement } from "../verdict/compare-runs.js";
import { compareEngines } from "./compare-engines.js";
import type { DockerEngine } from "./docker/docker-engine.js";

/** One scenario variant of the differential suite. */
export interface FidelityCase {
  readonly label: string;
  readonly file: string;
  readonly variant: string | null;
  /** The policy written as nft rules (`--firewall-format nft`). */
  readonly firewallFormat?: "nft";
}

/** One case's result, as a line of the suite's JSON-lines log. */
export interface FidelityOutcome {
  readonly label: string;
  readonly paired: number;
  readonly agreeing: number;
  readonly semantic: number;
  readonly timingOnly: number;
  readonly unpaired: number;
  readonly semanticSamples: readonly Disagreement[];
  readonly timingSamples: readonly Disagreement[];
  readonly dockerWallMs: number;
  /** Set when the case could not run on one of the engines. */
  readonly error?: string;
}

export interface FidelitySummary {
  readonly cases: number;
  readonly failedCases: number;
  readonly paired: number;
  readonly agreeing: number;
  readonly semantic: number;
  readonly timingOnly: number;
  readonly unpaired: number;
  /** Cases with at least one semantic difference. */
  readonly casesWithSemantic: readonly string[];
}

/**
 * Every built-in scenario and variant; with the nft format, those whose
 * firewall is a generated policy, written as nft rules (a ruleset file's
 * form is what it holds) and labelled so, so a log holds both forms apart.
 */
export function builtinCases(firewallFormat?: "iptables" | "nft"): FidelityCase[] {
  const cases = listBuiltinScenarios().flatMap((entry) => [null, ...entry.variants].map((variant) => ({ label: variant ? `${entry.name} [${variant}]` : entry.name, file: entry.file, variant })));
  if (firewallFormat !== "nft") return cases;
  return cases.filter((entry) => loadScenario(entry.file, entry.variant).firewall.kind === "policy").map((entry) => ({ ...entry, label: `${entry.label} (nft)`, firewallFormat: "nft" as const }));
}

/** Seeds first..first+count-1 as scenario files in `directory` (kept, so any case can be rerun with `slamlab diff`). */
export function randomCases(firstSeed: number, count: number, directory: string): FidelityCase[] {
  return Array.from({ length: count }, (_, index) => {
    const scenario = randomScenario(firstSeed + index);
    return { label: scenario.name, file: writeRandomScenario(scenario, directory), variant: null };
  });
}

export async function runFidelityCase(entry: FidelityCase, docker: DockerEngine): Promise<FidelityOutcome> {
  const started = performance.now();
  try {
    const { real, comparison } = await compareEngines(withFirewallFormat(loadScenario(entry.file, entry.variant), entry.firewallFormat), docker);
    return {
      label: entry.label,
      paired: comparison.paired,
      agreeing: comparison.agreeing,
      semantic: comparison.semantic.length,
      timingOnly: comparison.timingOnly.length,
      unpaired: comparison.unpaired,
      semanticSamples: comparison.semantic.slice(0, 5),
      timingSamples: comparison.timingOnly.slice(0, 5),
      dockerWallMs: real.wallMs,
    };
  } catch (error) {
    const empty = { paired: 0, agreeing: 0, semantic: 0, timingOnly: 0, unpaired: 0, semanticSamples: [], timingSamples: [] };
    return { label: entry.label, ...empty, dockerWallMs: performance.now() - started, error: (error as Error).message };
  }
}

/**
 * Runs the cases in order, appending each outcome to `log` (JSON lines) as it
 * finishes; cases already in the log are not run again, so an interrupted
 * suite resumes where it stopped.
 */
export async function runFidelitySuite(cases: readonly FidelityCase[], docker: DockerEngine, log: string, onOutcome: (outcome: FidelityOutcome, index: number) => void): Promise<FidelityOutcome[]> {
  const done = new Map(readFidelityLog(log).map((outcome) => [outcome.label, outcome]));
  const outcomes: FidelityOutcome[] = [];
  for (const [index, entry] of cases.entries()) {
    let outcome = done.get(entry.label);
    if (!outcome || outcome.error) {
      outcome = await runFidelityCase(entry, docker);
      appendFileSync(log, `${JSON.stringify(outcome)}\n`);
    }
    outcomes.push(outcome);
    onOutcome(outcome, index);
  }
  return outcomes;
}

export function readFidelityLog(log: string): FidelityOutcome[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as FidelityOutcome);
}

export function summarizeFidelity(outcomes: readonly FidelityOutcome[]): FidelitySummary {
  const sum = (pick: (outcome: FidelityOutcome) => number) => outcomes.reduce((total, outcome) => total + pick(outcome), 0);
  return {
    cases: outcomes.length,
    failedCases: outcomes.filter((outcome) => outcome.error).length,
    paired: sum((outcome) => outcome.paired),
    agreeing: sum((outcome) => outcome.agreeing),
    semantic: sum((outcome) => outcome.semantic),
    timingOnly: sum((outcome) => outcome.timingOnly),
    unpaired: sum((outcome) => outcome.unpaired),
    casesWithSemantic: outcomes.filter((outcome) => outcome.semantic > 0).map((outcome) => outcome.label),
  };
}

export const fidelityLogName = (directory: string) => join(directory, "fidelity.jsonl");
