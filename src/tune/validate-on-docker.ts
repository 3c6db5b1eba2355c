import { compareEngines } from "../engines/compare-engines.js";
import type { DockerEngine } from "../engines/docker/docker-engine.js";
import { scenarioWithSetting } from "./apply-setting.js";
import { isUnsafe } from "./pareto.js";
import { attackSources, legitimateSources, measureRun } from "../verdict/run-metrics.js";
import type { SettingResult } from "./sweep-chunk.js";
import { gridNeighbours } from "./recommend.js";
import { settingKey } from "./sweep-space.js";
import { loadTuneScenario, type TuneScenarioRef } from "./tune-scenarios.js";

export interface ValidationRun {
  readonly setting: string;
  readonly scenario: string;
  readonly paired: number;
  readonly agreeing: number;
  readonly semantic: number;
  readonly timingOnly: number;
  /** The model called the setting safe here; does the kernel agree (no phone locked out)? */
  readonly modelSafe: boolean;
  readonly kernelSafe: boolean;
}

/** The recommended setting and its grid neighbours (one step along each parameter). */
export function neighbourhood(recommended: SettingResult, results: readonly SettingResult[]): SettingResult[] {
  return [recommended, ...gridNeighbours(recommended, results)];
}

/** Reruns settings on the docker engine: verdicts packet by packet against the model, and safety by the kernel's own run. */
export async function validateOnDocker(refs: readonly TuneScenarioRef[], settings: readonly SettingResult[], docker: DockerEngine, onRun: (run: ValidationRun) => void): Promise<ValidationRun[]> {
  const runs: ValidationRun[] = [];
  for (const result of settings) {
    for (const ref of refs) {
      const scenario = scenarioWithSetting(loadTuneScenario(ref), result.setting, ref.ruleset);
      const { real, comparison } = await compareEngines(scenario, docker);
      const kernel = measureRun(scenario, real, legitimateSources(scenario), attackSources(scenario));
      const modelMetrics = result.byScenario[ref.label];
      const run: ValidationRun = {
        setting: settingKey(result.setting),
        scenario: ref.label,
        paired: comparison.paired,
        agreeing: comparison.agreeing,
        semantic: comparison.semantic.length,
        timingOnly: comparison.timingOnly.length,
        modelSafe: modelMetrics ? modelMetrics.legitRegistrationsLost === 0 : !isUnsafe(result),
        kernelSafe: kernel.legitRegistrationsLost === 0,
      };
      runs.push(run);
      onRun(run);
    }
  }
  return runs;
}
