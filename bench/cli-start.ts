/**
 * What a command costs before it does anything: the wall time of small jobs
 * (`--version`, `capture inspect` of a 100-packet capture, `firewall
 * generate`, `scenarios`, and the README's first command, `simulate
 * nat-office`, a whole small run) as a user runs them, a child process each,
 * beside node's own start (`node -e 0`). The difference is slamlab's module
 * loading: each command loads its own modules only (src/cli/main.ts), so a
 * small inspect pays for the capture reader, the policy and the filter, not
 * for the model engine, the docker engine or the scenario schema.
 * Run: npm run build && node dist/bench/cli-start.js [--runs 9]
 */
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../src/package-root.js";

const runs = process.argv.includes("--runs") ? Number(process.argv[process.argv.indexOf("--runs") + 1]) : 9;
const bin = join(packageRoot(), "bin", "slamlab.js");
const jobs: ReadonlyArray<{ label: string; args: readonly string[] }> = [
  { label: "node -e 0 (node's own start)", args: ["-e", "0"] },
  { label: "slamlab --version", args: [bin, "--version"] },
  { label: "slamlab capture inspect (100 packets)", args: [bin, "capture", "inspect", join(packageRoot(), "captures", "synth-svwar.pcap")] },
  { label: "slamlab firewall generate --policy default", args: [bin, "firewall", "generate", "--policy", "default"] },
  { label: "slamlab scenarios", args: [bin, "scenarios"] },
  // The README's first command: a whole small run, start included.
  { label: "slamlab simulate nat-office", args: [bin, "simulate", "nat-office"] },
];

/** The median wall time of `runs` runs, in ms; each job's runs interleaved with the others' so a noisy spell falls on all of them. */
const times = jobs.map(() => [] as number[]);
for (let run = 0; run < runs; run++) {
  jobs.forEach((job, index) => {
    const started = performance.now();
    const result = spawnSync(process.execPath, job.args, { stdio: ["ignore", "ignore", "pipe"] });
    if (result.status !== 0) throw new Error(`${job.label} exited ${result.status}: ${result.stderr.toString()}`);
    times[index]!.push(performance.now() - started);
  });
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const nodeStart = median(times[0]!);
console.log(`command start, median of ${runs} runs each (${cpus()[0]?.model ?? "cpu"}, ${cpus().length} cores, node ${process.version})`);
jobs.forEach((job, index) => {
  const ms = median(times[index]!);
  console.log(`${job.label.padEnd(46)} ${`${ms.toFixed(0)} ms`.padStart(8)}${index === 0 ? "" : `   slamlab's own ${(ms - nodeStart).toFixed(0)} ms`}`);
});
