#!/usr/bin/env node
/**
 * `npm test`: vitest's two projects (vitest.config.ts) side by side, each
 * one file at a time. The docker half waits on real time (every built-in
 * scenario runs its seconds in the lab) with the CPU mostly idle, so the
 * model half runs beside it rather than after it, at a lower priority (nice
 * 10) so the lab's containers keep the time they are judged by.
 *
 * Arguments go to both (file filters, reporters); `--outputFile.json=F`
 * gets one report per half, merged into F. With `--project` vitest runs as
 * given, once. Each line of output is prefixed by its half.
 */
import { spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { setPriority } from "node:os";
import { createInterface } from "node:readline";

const vitest = join(dirname(createRequire(import.meta.url).resolve("vitest/package.json")), "vitest.mjs");
const args = process.argv.slice(2);

if (args.some((arg) => arg === "--project" || arg.startsWith("--project="))) {
  const child = spawn(process.execPath, [vitest, "run", ...args], { stdio: "inherit" });
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  const jsonIndex = args.findIndex((arg) => arg === "--outputFile.json" || arg.startsWith("--outputFile.json="));
  const jsonFile = jsonIndex < 0 ? undefined : args[jsonIndex].includes("=") ? args[jsonIndex].slice(args[jsonIndex].indexOf("=") + 1) : args[jsonIndex + 1];
  const passed = jsonIndex < 0 ? args : args.filter((_, index) => index !== jsonIndex && !(index === jsonIndex + 1 && !args[jsonIndex].includes("=")));
  const halves = ["docker", "model"].map((project) => {
    const report = jsonFile === undefined ? undefined : `${jsonFile}.${project}.json`;
    const child = spawn(process.execPath, [vitest, "run", "--project", project, "--passWithNoTests", ...passed, ...(report ? [`--outputFile.json=${report}`] : [])], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (project === "model") setPriority(child.pid, 10);
    for (const [stream, out] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => out.write(`[${project}] ${line}\n`));
    }
    return { project, report, done: new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)))) };
  });
  const codes = await Promise.all(halves.map((half) => half.done));
  if (jsonFile !== undefined) writeFileSync(jsonFile, JSON.stringify(mergeReports(halves.map((half) => half.report))));
  for (const [index, half] of halves.entries()) console.log(`npm test: the ${half.project} half ${codes[index] === 0 ? "passed" : `failed (exit ${codes[index]})`}`);
  process.exit(codes.some((code) => code !== 0) ? 1 : 0);
}

/** vitest's JSON reports of the halves as one: counts added, results side by side; a half without a report failed to run. */
function mergeReports(files) {
  const merged = { numTotalTestSuites: 0, numPassedTestSuites: 0, numFailedTestSuites: 0, numPendingTestSuites: 0, numTotalTests: 0, numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, startTime: Date.now(), success: true, testResults: [] };
  for (const file of files) {
    let report;
    try {
      report = JSON.parse(readFileSync(file, "utf8"));
      rmSync(file);
    } catch {
      merged.success = false;
      continue;
    }
    for (const key of Object.keys(merged)) if (typeof merged[key] === "number" && typeof report[key] === "number" && key !== "startTime") merged[key] += report[key];
    merged.startTime = Math.min(merged.startTime, report.startTime ?? merged.startTime);
    merged.success &&= report.success === true;
    merged.testResults.push(...(report.testResults ?? []));
  }
  return merged;
}
