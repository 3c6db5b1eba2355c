/**
 * `slamlab tune`'s speed: hits 2..40 x seconds 5..300 in steps of 5 with
 * recent (2,340 settings) over every built-in scenario, on 1 and on 2 worker
 * threads, and a sample of the same settings simulated without reusing runs.
 * With --scan N a botnet of N addresses (each walking extensions at 2
 * REGISTERs a second for --scan-seconds, default 8) joins the built-ins,
 * issue 22's sweep at scale.
 * With --spread N only N settings spread evenly over the grid are swept.
 * Run: npm run build && node dist/bench/tune-sweep.js [--workers 1,2] [--param matcher=hashlimit ...] [--scan 65536 [--scan-seconds 8]] [--spread N] [--no-sample]
 */
import { availableParallelism, cpus } from "node:os";
import { runModel } from "../src/engines/model/model-engine.js";
import { loadReplays } from "../src/traffic/replay/load-replays.js";
import { scenarioWithSetting } from "../src/tune/apply-setting.js";
import { runSweep } from "../src/tune/run-sweep.js";
import { gridSettings, parseSweepSpace } from "../src/tune/sweep-space.js";
import { loadTuneScenario, tuneScenarioRefs } from "../src/tune/tune-scenarios.js";
import { writeScanScenario } from "./scan-scenario.js";

const workersArgument = process.argv.indexOf("--workers");
const workerCounts = workersArgument > 0 ? process.argv[workersArgument + 1]!.split(",").map(Number) : [1, 2];
const option = (name: string) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : undefined);
const scanSources = option("--scan");
const scanSeconds = option("--scan-seconds") ?? 8;
const refs = [...tuneScenarioRefs(undefined), ...(scanSources ? [{ file: writeScanScenario(scanSources, scanSeconds, scanSeconds - 0.5), variant: null, label: `scan of ${scanSources} addresses` }] : [])];

const extra = process.argv.flatMap((argument, index) => (process.argv[index - 1] === "--param" ? [argument] : []));
const grid = gridSettings(parseSweepSpace(["hits=2..40", "seconds=5..300:5", ...extra], true));
// --spread N: N settings spread evenly over the grid, for a sweep too long to run whole (the scan at scale).
const spread = option("--spread");
const settings = spread ? grid.filter((_, index) => index % Math.ceil(grid.length / spread) === 0) : grid;
console.log(`tune sweep (${availableParallelism()} x ${cpus()[0]?.model ?? "cpu"}, node ${process.version}): ${settings.length}${spread ? ` of the grid's ${grid.length}` : ""} settings x ${refs.length} scenario runs`);

const seconds: Record<number, number> = {};
for (const workers of workerCounts) {
  const started = performance.now();
  const results = await runSweep(refs, settings, workers, () => undefined);
  seconds[workers] = (performance.now() - started) / 1000;
  const simulated = results.reduce((count, result) => count + result.simulated, 0);
  console.log(
    `${workers} worker${workers === 1 ? " " : "s"}: ${seconds[workers]!.toFixed(1)} s (${((seconds[workers]! * 1000) / settings.length).toFixed(1)} ms per setting); ${simulated} of ${settings.length * refs.length} scenario runs simulated, the rest proven identical to one already run`,
  );
}
if (seconds[1] && seconds[2]) console.log(`speed-up from 1 to 2 workers: ${(seconds[1] / seconds[2]).toFixed(2)}x`);

// Without reuse every setting costs a full simulation of every scenario: time a sample.
if (process.argv.includes("--no-sample")) process.exit(0);
const sample = settings.filter((_, index) => index % Math.ceil(settings.length / 15) === 0);
const prepared = await Promise.all(refs.map(async (ref) => { const scenario = loadTuneScenario(ref); return { scenario, replays: await loadReplays(scenario) }; }));
const started = performance.now();
for (const setting of sample) for (const { scenario, replays } of prepared) runModel(scenarioWithSetting(scenario, setting), {}, replays);
const perSetting = (performance.now() - started) / sample.length;
console.log(`simulating every run (no reuse), 1 thread: ${perSetting.toFixed(0)} ms per setting, ${((perSetting * settings.length) / 1000).toFixed(0)} s for the grid`);
