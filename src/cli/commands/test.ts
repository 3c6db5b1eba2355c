import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import type { RunReport } from "../../report/run-report.js";
import { renderJunit, type LoadFailure } from "../../report/render-junit.js";
import { renderTerminal } from "../../report/render-terminal.js";
import { planOutputs, writeOutputs } from "../../report/output-files.js";
import { listVariants, loadScenario, loadScenarioDocument } from "../../scenario/load-scenario.js";
import { CommandLineError, EXIT_BAD_INPUT, EXIT_EXPECTATION_FAILED, EXIT_PASSED, exitCodeFor } from "../exit-codes.js";
import { engineNamed, runScenario } from "../run-scenario.js";
import { parseMaxPackets, parseSeed } from "../parse-options.js";
import { runScenarioJobs, type ScenarioJobResult } from "../parallel-scenario-runs.js";
import { terminalWidth, useColor } from "../terminal.js";
import { DEFAULT_PACKET_BUDGET, DEFAULT_STREAMED_PACKET_BUDGET } from "../../scenario/estimate-packets.js";

interface TestOptions {
  engine: string;
  workers?: string;
  junit?: string;
  quiet?: boolean;
  maxPackets?: string;
}

/** Every scenario file in a directory (or one file), every variant, as a CI suite. */
export function registerTestCommand(program: Command): void {
  program
    .command("test")
    .description("run every scenario and variant in a directory; exit 1 if any expectation fails")
    .argument("<dir>", "directory of scenario YAML files (or one file)")
    .option("--engine <name>", "engine: model (in-process simulator) or docker (real Asterisk and netfilter in containers)", "model")
    .option("--junit <file>", "write JUnit XML for CI")
    .option("-q, --quiet", "print one line per scenario instead of full reports")
    .option("--max-packets <n>", `refuse runs estimated to judge more packets than this (default ${DEFAULT_STREAMED_PACKET_BUDGET.toLocaleString("en-US")}; ${DEFAULT_PACKET_BUDGET.toLocaleString("en-US")} on the docker engine)`)
    .option("--workers <n>", "model engine: run this many scenario runs at once on worker threads (default 1); the output keeps the suite's order")
    .addHelpText("after", "\nExample: slamlab test scenarios/ --junit out/junit.xml   # one JUnit testcase per expectation; a scenario that does not load is its <error>")
    .action(async (dir: string, options: TestOptions) => {
      const files = scenarioFiles(dir);
      const outputs = options.junit ? planOutputs([{ flag: "--junit", path: options.junit }], files) : [];
      const maxPackets = parseMaxPackets(options.maxPackets);
      const engine = engineNamed(options.engine);
      const reports: RunReport[] = [];
      const loadFailures: LoadFailure[] = [];
      const color = useColor();
      const width = terminalWidth();
      // A scenario the user broke is that scenario's error; the rest still run.
      const recordFailure = (file: string, variant: string | null, code: string, message: string) => {
        loadFailures.push({ file, variant, code, message });
        process.stdout.write(`ERROR ${variant ? `${file} [${variant}]` : file}: [${code}] ${message}\n`);
      };
      const loadFailed = (file: string, variant: string | null, error: unknown) => {
        if (exitCodeFor(error) !== EXIT_BAD_INPUT) throw error;
        recordFailure(file, variant, String((error as { code?: unknown }).code ?? "BAD_INPUT"), (error as Error).message);
      };
      const workers = options.workers === undefined ? 1 : parseSeed(options.workers);
      if (workers < 1) throw new CommandLineError(`--workers ${options.workers}: expected at least 1`);
      if (workers > 1 && engine.name !== "model") throw new CommandLineError("--workers runs model runs side by side; docker runs share the machine's one lab, one at a time");
      // Every variant of every file, in the suite's order; a file that does not load is its place's error.
      const entries: Array<{ file: string; variant: string | null; failure?: unknown }> = [];
      for (const file of files) {
        try {
          for (const variant of [null, ...listVariants(loadScenarioDocument(file))]) entries.push({ file, variant });
        } catch (error) {
          entries.push({ file, variant: null, failure: error });
        }
      }
      const show = (report: RunReport) => {
        reports.push(report);
        const label = report.result.variant ? `${report.result.scenario} [${report.result.variant}]` : report.result.scenario;
        if (options.quiet) process.stdout.write(`${report.passed ? "PASS" : "FAIL"}  ${label}\n`);
        else process.stdout.write(`${renderTerminal(report, { color, width })}\n`);
      };
      if (workers === 1) {
        for (const entry of entries) {
          if (entry.failure !== undefined) {
            loadFailed(entry.file, entry.variant, entry.failure);
            continue;
          }
          try {
            show(await runScenario(loadScenario(entry.file, entry.variant), engine, { keepVerdicts: false, maxPackets }));
          } catch (error) {
            loadFailed(entry.file, entry.variant, error);
          }
        }
      } else {
        // Results come back as threads finish; each is shown once every entry before it has been.
        const finished = new Map<number, ScenarioJobResult>();
        let next = 0;
        const flush = () => {
          for (; next < entries.length; next++) {
            const entry = entries[next]!;
            if (entry.failure !== undefined) {
              loadFailed(entry.file, entry.variant, entry.failure);
              continue;
            }
            const result = finished.get(next);
            if (!result) return;
            finished.delete(next);
            if ("report" in result) show(result.report);
            else if (result.error.exitCode === EXIT_BAD_INPUT) recordFailure(entry.file, entry.variant, result.error.code, result.error.message);
            else throw Object.assign(new Error(result.error.message), { stack: result.error.stack });
          }
        };
        const jobs = entries.flatMap((entry, index) => (entry.failure === undefined ? [{ index, file: entry.file, variant: entry.variant, maxPackets }] : []));
        flush();
        await runScenarioJobs(jobs, workers, (result) => {
          finished.set(result.index, result);
          flush();
        });
      }
      const failed = reports.filter((report) => !report.passed).length;
      process.stdout.write(`\n${reports.length - failed} scenario runs passed, ${failed} failed${loadFailures.length ? `, ${loadFailures.length} did not load` : ""}\n`);
      if (outputs[0]) await writeOutputs([{ output: outputs[0], data: renderJunit(reports, loadFailures) }]);
      process.exitCode = loadFailures.length ? EXIT_BAD_INPUT : failed === 0 ? EXIT_PASSED : EXIT_EXPECTATION_FAILED;
    });
}

function scenarioFiles(path: string): string[] {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw new CommandLineError(`${path}: no such file or directory; give a directory of scenario YAML files`);
  }
  if (stats.isFile()) return [path];
  const files = readdirSync(path)
    .filter((name) => /\.ya?ml$/.test(name) && !name.endsWith(".expect.yaml"))
    .sort()
    .map((name) => join(path, name));
  if (files.length === 0) throw new CommandLineError(`${path}: no scenario files (*.yaml) found`);
  return files;
}
