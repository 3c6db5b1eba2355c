import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { listBuiltinScenarios, resolveScenarioRef } from "../scenario/catalogue.js";
import { listVariants, loadScenario, loadScenarioDocument } from "../scenario/load-scenario.js";
import type { Scenario } from "../scenario/scenario.js";
import { TuneError } from "./sweep-space.js";
import { checkPacketBudget } from "../scenario/estimate-packets.js";

/** A scenario run of the sweep: a file and a variant, loaded again inside each worker. */
export interface TuneScenarioRef {
  readonly file: string;
  readonly variant: string | null;
  readonly label: string;
}

/**
 * The runs a sweep covers: each scenario, plus variants that change the policy
 * in something other than the matcher (the sweep sets the matcher itself).
 * Runs on a user's own ruleset are left out: tune changes generated policies.
 */
export function tuneScenarioRefs(selection: string | undefined, maxPackets?: number): TuneScenarioRef[] {
  const files = selection === undefined ? listBuiltinScenarios().map((entry) => entry.file) : filesOf(selection);
  const refs: TuneScenarioRef[] = [];
  for (const file of files) {
    const loaded = loadScenarioDocument(file);
    for (const variant of [null, ...listVariants(loaded)]) {
      const spec = variant === null ? null : loaded.document.variants.find((candidate) => candidate.name === variant)!;
      if (spec && (spec.ruleset !== undefined || !spec.policy || Object.keys(spec.policy).every((key) => key === "matcher"))) continue;
      const scenario = loadScenario(file, variant);
      if (scenario.firewall.kind !== "policy") continue;
      // Every setting reruns the scenario: one over the budget is refused before the sweep, not in a worker.
      checkPacketBudget(scenario, maxPackets);
      if (scenario.traffic.some((source) => source.kind === "tool")) continue;
      refs.push({ file, variant, label: variant ? `${scenario.name} [${variant}]` : scenario.name });
    }
  }
  if (refs.length === 0) throw new TuneError(`no scenario in ${selection ?? "the built-ins"} uses a generated policy; tune sweeps policies (runs on a fixed ruleset or with real tools are left out)`);
  return refs;
}

function filesOf(selection: string): string[] {
  if (existsSync(selection) && statSync(selection).isDirectory()) {
    const files = readdirSync(selection).filter((name) => /\.ya?ml$/.test(name)).sort().map((name) => join(selection, name));
    if (files.length === 0) throw new TuneError(`${selection} holds no scenario (*.yaml)`);
    return files;
  }
  return selection.split(",").map((ref) => resolveScenarioRef(ref.trim()));
}

export function loadTuneScenario(ref: TuneScenarioRef): Scenario {
  return loadScenario(ref.file, ref.variant);
}
