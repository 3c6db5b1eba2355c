import type { Scenario } from "./scenario.js";

/** Every file a scenario run reads: the scenario, its ruleset and its captures, which no output may overwrite. */
export function scenarioFiles(scenario: Scenario): string[] {
  const files = [scenario.file];
  if (scenario.firewall.kind === "ruleset") files.push(scenario.firewall.path);
  for (const source of scenario.traffic) if (source.kind === "replay") files.push(source.file);
  return files;
}
