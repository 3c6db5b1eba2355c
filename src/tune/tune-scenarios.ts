import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { listBuiltinScenarios, resolveScenarioRef } from "../scenario/catalogue.js";
import { listVariants, loadScenario, loadScenarioDocument } from "../scenario/load-scenario.js";
import type { Scenario } from "../scenario/scenario.js";
import { TuneError } from "./sweep-space.js";
import { checkPacketBudget } from "../scenario/estimate-packets.js";
import type { RulesetTemplate } from "./ruleset-template.js";
import { addressMappings, mapRulesetAddresses } from "../firewall/address-map.js";

/** A scenario run of the sweep: a file and a variant, loaded again inside each worker. */
export interface TuneScenarioRef {
  readonly file: string;
  readonly variant: string | null;
  readonly label: string;
  /** A user's own ruleset that replaces the scenario's firewall, with the options the sweep sets. */
  readonly ruleset?: RulesetTemplate;
}

/**
 * The runs a sweep covers: each scenario, plus variants that change the policy
 * in something other than the matcher (the sweep sets the matcher itself).
 * Runs on a user's own ruleset are left out: tune changes generated policies.
 */
export function tuneScenarioRefs(selection: string | undefined, maxPackets?: number, ruleset?: RulesetTemplate): TuneScenarioRef[] {
  const files = selection === undefined ? listBuiltinScenarios().map((entry) => entry.file) : filesOf(selection);
  const refs: TuneScenarioRef[] = [];
  for (const file of files) {
    const loaded = loadScenarioDocument(file);
    for (const variant of [null, ...listVariants(loaded)]) {
      const spec = variant === null ? null : loaded.document.variants.find((candidate) => candidate.name === variant)!;
      // With the user's ruleset every run uses it: variants that only change the firewall add nothing.
      if (spec && (ruleset || spec.ruleset !== undefined || !spec.policy || Object.keys(spec.policy).every((key) => key === "matcher"))) continue;
      const scenario = loadScenario(file, variant);
      if (ruleset?.form === "nft" && scenario.addressMap !== undefined) {
        throw new TuneError(`${file}: firewall.addressMap rewrites iptables rulesets only; write the lab's addresses into ${ruleset.path}, or sweep it as iptables-save`);
      }
      if (scenario.firewall.kind !== "policy" && !ruleset) continue;
      // Every setting reruns the scenario: one over the budget is refused before the sweep, not in a worker.
      checkPacketBudget(scenario, maxPackets);
      refs.push({ file, variant, label: variant ? `${scenario.name} [${variant}]` : scenario.name, ...(ruleset ? { ruleset } : {}) });
    }
  }
  if (refs.length === 0) throw new TuneError(`no scenario in ${selection ?? "the built-ins"} uses a generated policy; tune sweeps policies (runs on a fixed ruleset are left out)`);
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
  const scenario = loadScenario(ref.file, ref.variant);
  if (!ref.ruleset || ref.ruleset.form === "nft") return ref.ruleset ? { ...scenario, firewall: { kind: "ruleset", path: ref.ruleset.path, text: ref.ruleset.text } } : scenario;
  return { ...scenario, firewall: { kind: "ruleset", path: ref.ruleset.path, text: mapRulesetAddresses(ref.ruleset.text, addressMappings(scenario.addressMap ?? {}), ref.ruleset.path).text } };
}
