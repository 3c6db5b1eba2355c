import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../package-root.js";
import { loadScenarioDocument, listVariants } from "./load-scenario.js";
import { ScenarioError } from "./scenario.js";

export interface CatalogueEntry {
  readonly name: string;
  readonly description: string;
  readonly file: string;
  readonly variants: readonly string[];
}

export function builtinScenarioDirectory(): string {
  return join(packageRoot(), "scenarios");
}

export function listBuiltinScenarios(): CatalogueEntry[] {
  const directory = builtinScenarioDirectory();
  return readdirSync(directory)
    .filter((name) => name.endsWith(".yaml"))
    .sort()
    .map((name) => {
      const loaded = loadScenarioDocument(join(directory, name));
      return { name: loaded.document.name, description: loaded.document.description, file: loaded.file, variants: listVariants(loaded) };
    });
}

/** A built-in name ("nat-office") or a path to a YAML file. */
export function resolveScenarioRef(ref: string): string {
  if (existsSync(ref) || /[/\\]|\.ya?ml$/.test(ref)) return ref;
  const entry = listBuiltinScenarios().find((candidate) => candidate.name === ref);
  if (!entry) {
    const names = listBuiltinScenarios().map((candidate) => candidate.name);
    throw new ScenarioError("SCENARIO_NOT_FOUND", `no built-in scenario "${ref}" and no such file; built-in scenarios are ${names.join(", ")}`);
  }
  return entry.file;
}
