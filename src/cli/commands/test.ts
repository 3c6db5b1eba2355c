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
import { parseMaxPackets } from "../parse-options.js";
import { terminalWidth, useColor } from "../terminal.js";
import { DEFAULT_PACKET_BUDGET } from "../../scenario/estimate-packets.js";

interface TestOptions {
  engine: string;
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
    .option("--max-packets <n>", `refuse runs estimated to judge more packets than this (default ${DEFAULT_PACKET_BUDGET.toLocaleString("en-US")})`)
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
      const loadFailed = (file: string, variant: string | null, error: unknown) => {
        if (exitCodeFor(error) !== EXIT_BAD_INPUT) throw error;
        const code = String((error as { code?: unknown }).code ?? "BAD_INPUT");
        loadFailures.push({ file, variant, code, message: (error as Error).message });
        process.stdout.write(`ERROR ${variant ? `${file} [${variant}]` : file}: [${code}] ${(error as Error).message}\n`);
      };
      for (const file of files) {
        let variants: (string | null)[];
        try {
          variants = [null, ...listVariants(loadScenarioDocument(file))];
        } catch (error) {
          loadFailed(file, null, error);
          continue;
        }
        for (const variant of variants) {
          let report: RunReport;
          try {
            report = await runScenario(loadScenario(file, variant), engine, { keepVerdicts: false, maxPackets });
          } catch (error) {
            loadFailed(file, variant, error);
            continue;
          }
          reports.push(report);
          const label = variant ? `${report.result.scenario} [${variant}]` : report.result.scenario;
          if (options.quiet) process.stdout.write(`${report.passed ? "PASS" : "FAIL"}  ${label}\n`);
          else process.stdout.write(`${renderTerminal(report, { color, width })}\n`);
        }
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
