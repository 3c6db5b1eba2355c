/**
 * One whole model run of the benches' botnet (bench/scan-scenario.ts), no
 * verdicts kept, timed after a small warm-up run: what to pair with
 * farm-bench against the same file built in a checkout of an older commit.
 * Run: npm run build && node dist/bench/scan-run.js [--sources 10000] [--seconds 16]
 */
import { runModel } from "../src/engines/model/model-engine.js";
import { packetsJudged } from "../src/verdict/run-result.js";
import { scanScenario } from "./scan-scenario.js";

const option = (name: string, fallback: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback);
const sources = option("--sources", 10_000);
const seconds = option("--seconds", 16);
const scenario = scanScenario(sources, seconds, seconds - 1);
runModel(scanScenario(100, 4, 3), { keepVerdicts: false });
const started = performance.now();
const result = runModel(scenario, { keepVerdicts: false });
const ms = performance.now() - started;
const packets = packetsJudged(result);
console.log(`${sources.toLocaleString("en-US")} sources, ${seconds} s: ${packets.toLocaleString("en-US")} packets in ${ms.toFixed(0)} ms, ${((ms * 1000) / packets).toFixed(2)} µs a packet`);
