import { runModel } from "../engines/model/model-engine.js";
import { loadReplays } from "../traffic/replay/load-replays.js";
import { scenarioWithSetting } from "./apply-setting.js";
import { attackSources, combineMetrics, legitimateSources, measureRun, type RunMetrics } from "./run-metrics.js";
import type { TuneSetting } from "./sweep-space.js";
import { loadTuneScenario, type TuneScenarioRef } from "./tune-scenarios.js";

/** One setting's result over every scenario of the sweep. */
export interface SettingResult {
  readonly setting: TuneSetting;
  readonly total: RunMetrics;
  /** Per scenario label. */
  readonly byScenario: Readonly<Record<string, RunMetrics>>;
}

/** Runs settings over the scenarios on the model engine, in this thread. */
export async function sweepChunk(refs: readonly TuneScenarioRef[], settings: readonly TuneSetting[], onResult: (result: SettingResult) => void): Promise<void> {
  const prepared = await Promise.all(
    refs.map(async (ref) => {
      const scenario = loadTuneScenario(ref);
      return { ref, scenario, replays: await loadReplays(scenario), legit: legitimateSources(scenario), attack: attackSources(scenario) };
    }),
  );
  for (const setting of settings) {
    const byScenario: Record<string, RunMetrics> = {};
    for (const { ref, scenario, replays, legit, attack } of prepared) {
      const tuned = scenarioWithSetting(scenario, setting);
      byScenario[ref.label] = measureRun(tuned, runModel(tuned, {}, replays), legit, attack);
    }
    onResult({ setting, total: combineMetrics(Object.values(byScenario)), byScenario });
  }
}
