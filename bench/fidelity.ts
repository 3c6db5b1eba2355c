/**
 * Model vs kernel agreement (issue 5): the differential suite on the docker
 * engine, every built-in scenario and variant plus seeded random scenarios,
 * with the figures the README quotes. Resumable: results go to
 * OUT/fidelity.jsonl as each scenario finishes, and a rerun skips what is there.
 * Run: npm run build && node dist/bench/fidelity.js [--builtins] [--random 200] [--first-seed 1] [--out bench/fidelity-out]
 * (about 14 s per random scenario, 30 minutes for the built-ins).
 */
import { mkdirSync } from "node:fs";
import { cpus } from "node:os";
import { DockerEngine } from "../src/engines/docker/docker-engine.js";
import { builtinCases, fidelityLogName, randomCases, runFidelitySuite, summarizeFidelity, type FidelityOutcome } from "../src/engines/fidelity-suite.js";

const argument = (name: string) => {
  const index = process.argv.indexOf(name);
  return index > 0 ? process.argv[index + 1] : undefined;
};
const count = Number(argument("--random") ?? 200);
const firstSeed = Number(argument("--first-seed") ?? 1);
const out = argument("--out") ?? "bench/fidelity-out";
mkdirSync(out, { recursive: true });
const cases = [...(process.argv.includes("--builtins") ? builtinCases() : []), ...randomCases(firstSeed, count, out)];
console.log(`differential suite (${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, node ${process.version}): ${cases.length} scenarios, log ${fidelityLogName(out)}`);
const outcomes = await runFidelitySuite(cases, new DockerEngine(), fidelityLogName(out), (outcome, index) => {
  if (outcome.semantic > 0 || outcome.error) console.log(`  [${index + 1}] ${outcome.label}: ${outcome.error ?? `${outcome.semantic} semantic`}`);
});

const line = (label: string, group: readonly FidelityOutcome[]) => {
  const summary = summarizeFidelity(group);
  const share = (part: number) => (summary.paired ? `${((100 * part) / summary.paired).toFixed(3)}%` : "-");
  console.log(
    `${label.padEnd(34)} ${String(summary.cases).padStart(5)} ${String(summary.paired).padStart(8)} ${share(summary.agreeing).padStart(9)} ${String(summary.semantic).padStart(8)} ${share(summary.timingOnly).padStart(11)} ${String(summary.unpaired).padStart(8)} ${String(summary.failedCases).padStart(6)}`,
  );
};
console.log(`${"scenarios".padEnd(34)} ${"runs".padStart(5)} ${"paired".padStart(8)} ${"agree".padStart(9)} ${"semantic".padStart(8)} ${"timing-only".padStart(11)} ${"unpaired".padStart(8)} ${"failed".padStart(6)}`);
const builtin = outcomes.filter((outcome) => !outcome.label.startsWith("random-"));
const random = outcomes.filter((outcome) => outcome.label.startsWith("random-"));
if (builtin.length) line("built-in scenarios and variants", builtin);
if (random.length) line(`random scenarios (seeds ${firstSeed}-${firstSeed + count - 1})`, random);
line("all", outcomes);
const worst = [...random].sort((a, b) => b.timingOnly / Math.max(1, b.paired) - a.timingOnly / Math.max(1, a.paired)).slice(0, 5);
if (worst.length) console.log(`most timing-only: ${worst.map((outcome) => `${outcome.label} ${((100 * outcome.timingOnly) / Math.max(1, outcome.paired)).toFixed(1)}%`).join(", ")}`);
