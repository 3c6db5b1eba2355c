import { policyRulesetText } from "../firewall/policy-ruleset.js";
import { compileRulesetText } from "../engines/model/compile-ruleset.js";
import { defaultKernelSettings } from "../engines/model/kernel-settings.js";
import { FilterTrace } from "../engines/model/filter-trace.js";
import { runModel } from "../engines/model/model-engine.js";
import type { Scenario } from "../scenario/scenario.js";
import type { ReplayPlan } from "../traffic/replay/replay-plan.js";
import { loadReplays } from "../traffic/replay/load-replays.js";
import { scenarioWithSetting } from "./apply-setting.js";
import { attackSources, combineMetrics, legitimateSources, measureRun, type RunMetrics } from "../verdict/run-metrics.js";
import type { TuneSetting } from "./sweep-space.js";
import { loadTuneScenario, type TuneScenarioRef } from "./tune-scenarios.js";

/** One setting's result over every scenario of the sweep. */
export interface SettingResult {
  readonly setting: TuneSetting;
  readonly total: RunMetrics;
  /** Per scenario label. */
  readonly byScenario: Readonly<Record<string, RunMetrics>>;
  /** Scenario runs simulated in full; the others were proven identical to an earlier run. */
  readonly simulated: number;
}

/** Distinct runs remembered per scenario. */
const REMEMBERED_RUNS = 4;

interface RememberedRun {
  readonly trace: FilterTrace;
  readonly metrics: RunMetrics;
}

interface PreparedScenario {
  readonly ref: TuneScenarioRef;
  readonly scenario: Scenario;
  readonly replays: ReadonlyMap<string, ReplayPlan>;
  readonly legit: ReadonlySet<string>;
  readonly attack: ReadonlySet<string>;
  readonly remembered: RememberedRun[];
}

/**
 * The simulation is deterministic and its traffic reacts only to what the
 * filter decides. So when a setting's ruleset decides every packet of an
 * earlier run exactly as that run's ruleset did, its run would be that run,
 * packet for packet, and the earlier metrics are its metrics. Checking costs
 * one filter pass over the recorded packets; simulating costs the SIP
 * traffic, the PBX and conntrack as well.
 */
function sameRunAs(prepared: PreparedScenario, scenario: Scenario): RememberedRun | undefined {
  if (prepared.remembered.length === 0 || scenario.firewall.kind !== "policy") return undefined;
  // In the form the run loads it (an nft-meter setting is nft rules, and decides unlike recent).
  const text = policyRulesetText(scenario.firewall.policy, scenario.firewall.format, { pbxAddress: scenario.pbx.address });
  for (const run of prepared.remembered) {
    const firewall = compileRulesetText(text, "tuned policy", { settings: defaultKernelSettings, tables: new Map() });
    if (run.trace.judgedAlike(firewall)) return run;
  }
  return undefined;
}

/** Runs settings over the scenarios on the model engine, in this thread. */
export async function sweepChunk(refs: readonly TuneScenarioRef[], settings: readonly TuneSetting[], onResult: (result: SettingResult) => void): Promise<void> {
  const prepared: PreparedScenario[] = await Promise.all(
    refs.map(async (ref) => {
      const scenario = loadTuneScenario(ref);
      return { ref, scenario, replays: await loadReplays(scenario), legit: legitimateSources(scenario), attack: attackSources(scenario), remembered: [] };
    }),
  );
  for (const setting of settings) {
    const byScenario: Record<string, RunMetrics> = {};
    let simulated = 0;
    for (const entry of prepared) {
      const tuned = scenarioWithSetting(entry.scenario, setting, entry.ref.ruleset);
      const known = sameRunAs(entry, tuned);
      if (known) {
        byScenario[entry.ref.label] = known.metrics;
        // Most recently useful first: neighbouring settings tend to repeat it.
        entry.remembered.splice(entry.remembered.indexOf(known), 1);
        entry.remembered.unshift(known);
        continue;
      }
      const trace = new FilterTrace();
      const metrics = measureRun(tuned, runModel(tuned, {}, entry.replays, trace), entry.legit, entry.attack);
      simulated++;
      byScenario[entry.ref.label] = metrics;
      entry.remembered.unshift({ trace, metrics });
      if (entry.remembered.length > REMEMBERED_RUNS) entry.remembered.pop();
    }
    onResult({ setting, total: combineMetrics(Object.values(byScenario)), byScenario, simulated });
  }
}
