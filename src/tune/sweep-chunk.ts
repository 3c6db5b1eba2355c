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
 * Settings taken together: each remembered run's packets are judged once
 * for all of a batch's settings (a pass decodes every packet, half of its
 * time on a large scan), not once per setting.
 */
const BATCH_SETTINGS = 8;

/** A tuned scenario's ruleset in the form the run loads it (an nft-meter setting is nft rules, and decides unlike recent); undefined for a ruleset of the user's, which is never reused. */
function rulesetTextToCheck(scenario: Scenario): string | undefined {
  if (scenario.firewall.kind !== "policy") return undefined;
  return policyRulesetText(scenario.firewall.policy, scenario.firewall.format, { pbxAddress: scenario.pbx.address });
}

/**
 * The simulation is deterministic and its traffic reacts only to what the
 * filter decides. So when a setting's ruleset decides every packet of an
 * earlier run exactly as that run's ruleset did, its run would be that run,
 * packet for packet, and the earlier metrics are its metrics (any two runs
 * that qualify are then the same run). Checking costs one filter pass over
 * the recorded packets; simulating costs the SIP traffic, the PBX and
 * conntrack as well.
 *
 * Which of `candidates` (indexes into `texts`, the batch's rulesets) each of
 * `runs` proves: metrics go to `metrics`, and the candidates no run proves
 * are returned. A run that proves any moves to the front of the scenario's
 * remembered runs.
 */
function proveByRuns(prepared: PreparedScenario, runs: readonly RememberedRun[], texts: ReadonlyArray<string | undefined>, candidates: number[], metrics: Array<RunMetrics | undefined>): number[] {
  let left = candidates.filter((index) => texts[index] !== undefined);
  for (const run of runs) {
    if (left.length === 0) break;
    // Each check compiles afresh: a firewall's state (its recent lists) is the pass's own.
    const alike = run.trace.judgedAlikeEach(left.map((index) => compileRulesetText(texts[index]!, "tuned policy", { settings: defaultKernelSettings, tables: new Map() })));
    if (!alike.includes(true)) continue;
    for (const [position, index] of left.entries()) if (alike[position]) metrics[index] = run.metrics;
    left = left.filter((_, position) => !alike[position]);
    // Most recently useful first: neighbouring settings tend to repeat it.
    const at = prepared.remembered.indexOf(run);
    if (at >= 0) prepared.remembered.unshift(...prepared.remembered.splice(at, 1));
  }
  return candidates.filter((index) => metrics[index] === undefined);
}

/** Runs settings over the scenarios on the model engine, in this thread. */
export async function sweepChunk(refs: readonly TuneScenarioRef[], settings: readonly TuneSetting[], onResult: (result: SettingResult) => void): Promise<void> {
  const prepared: PreparedScenario[] = await Promise.all(
    refs.map(async (ref) => {
      const scenario = loadTuneScenario(ref);
      return { ref, scenario, replays: await loadReplays(scenario), legit: legitimateSources(scenario), attack: attackSources(scenario), remembered: [] };
    }),
  );
  for (let first = 0; first < settings.length; first += BATCH_SETTINGS) {
    const batch = settings.slice(first, first + BATCH_SETTINGS);
    const byScenario = batch.map((): Record<string, RunMetrics> => ({}));
    const simulated = batch.map(() => 0);
    for (const entry of prepared) {
      const tuned = batch.map((setting) => scenarioWithSetting(entry.scenario, setting, entry.ref.ruleset));
      const texts = tuned.map(rulesetTextToCheck);
      const metrics: Array<RunMetrics | undefined> = batch.map(() => undefined);
      let left = proveByRuns(entry, [...entry.remembered], texts, batch.map((_, index) => index), metrics);
      while (left.length > 0) {
        // The first setting no run proves is simulated; its run may prove the rest.
        const index = left.shift()!;
        const trace = new FilterTrace();
        const run: RememberedRun = { trace, metrics: measureRun(tuned[index]!, runModel(tuned[index]!, {}, entry.replays, trace), entry.legit, entry.attack) };
        simulated[index]!++;
        metrics[index] = run.metrics;
        entry.remembered.unshift(run);
        if (entry.remembered.length > REMEMBERED_RUNS) entry.remembered.pop();
        left = proveByRuns(entry, [run], texts, left, metrics);
      }
      for (const [index, measured] of metrics.entries()) byScenario[index]![entry.ref.label] = measured!;
    }
    for (const [index, setting] of batch.entries()) onResult({ setting, total: combineMetrics(Object.values(byScenario[index]!)), byScenario: byScenario[index]!, simulated: simulated[index]! });
  }
}
