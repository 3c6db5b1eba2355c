/**
 * Wall time of every built-in scenario and variant on the model engine.
 * Run: npm run bench (or `npm run build && node dist/bench/scenario-walltime.js`).
 */
import { cpus } from "node:os";
import { runScenario } from "../src/cli/run-scenario.js";
import { ModelEngine } from "../src/engines/model/model-engine.js";
import { listBuiltinScenarios } from "../src/scenario/catalogue.js";
import { loadScenario } from "../src/scenario/load-scenario.js";

const engine = new ModelEngine();
console.log(`scenario wall time, model engine (${cpus()[0]?.model ?? "cpu"}, node ${process.version})`);
console.log(`${"scenario".padEnd(44)} ${"virtual s".padStart(9)} ${"packets".padStart(9)} ${"wall ms".padStart(9)} ${"pkts/s".padStart(10)}  result`);
for (const entry of listBuiltinScenarios()) {
  for (const variant of [null, ...entry.variants]) {
    const scenario = loadScenario(entry.file, variant);
    const started = performance.now();
    const report = await runScenario(scenario, engine);
    const wallMs = performance.now() - started;
    const label = variant ? `${entry.name} [${variant}]` : entry.name;
    const packets = report.result.verdicts.length;
    console.log(
      `${label.padEnd(44)} ${String(scenario.durationSeconds).padStart(9)} ${String(packets).padStart(9)} ${wallMs.toFixed(0).padStart(9)} ${Math.round(packets / (wallMs / 1000)).toLocaleString("en-US").padStart(10)}  ${report.passed ? "PASS" : "FAIL"}`,
    );
  }
}
