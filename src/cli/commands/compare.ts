import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { compareDefences, summarizeDefences } from "../../compare/compare-defences.js";
import { DefenceError, defenceNames, parseDefences } from "../../compare/defences.js";
import { planOutputs, writeOutputs } from "../../report/output-files.js";
import { renderCompareHtml } from "../../report/render-compare-html.js";
import { renderCompareSvg } from "../../report/render-compare-svg.js";
import { compareReport, renderCompareTerminal } from "../../report/render-compare.js";
import { listBuiltinScenarios, resolveScenarioRef } from "../../scenario/catalogue.js";
import { checkPacketBudget, DEFAULT_PACKET_BUDGET } from "../../scenario/estimate-packets.js";
import { loadScenario } from "../../scenario/load-scenario.js";
import type { Scenario } from "../../scenario/scenario.js";
import { scenarioFiles } from "../../scenario/scenario-files.js";
import { CommandLineError } from "../exit-codes.js";
import { parseMaxPackets } from "../parse-options.js";
import { engineNamed } from "../run-scenario.js";

interface CompareOptions {
  scenario?: string;
  scenarios?: string;
  variant?: string;
  defences: string;
  engine: string;
  out: string;
  maxPackets?: string;
}

/** `slamlab compare`: the same scenarios under each defence, side by side. */
export function registerCompareCommand(program: Command): void {
  program
    .command("compare")
    .description("run the same scenarios under each defence (the kernel's limit, a responsive firewall, none) and compare attack outcome and harm")
    .option("-s, --scenario <name|file>", "one scenario: a built-in name or a scenario YAML")
    .option("--scenarios <dir|names>", "several: a directory of scenario YAMLs, or comma-separated built-in names/files (default: every built-in)")
    .option("--variant <name>", "with --scenario, run this variant of it")
    .option("--defences <list>", `comma-separated, from ${defenceNames.join(", ")}`, defenceNames.join(","))
    .option("--engine <name>", "model or docker", "model")
    .option("--out <dir>", "where compare.json, compare.html and compare.svg (the figure) go", "slamlab-compare")
    .option("--max-packets <n>", `refuse scenario runs estimated to judge more packets than this (default ${DEFAULT_PACKET_BUDGET.toLocaleString("en-US")})`)
    .addHelpText("after", "\nExample: slamlab compare --scenario register-flood --defences kernel,responsive,none --out compare/")
    .action(async (options: CompareOptions) => {
      if (options.scenario !== undefined && options.scenarios !== undefined) throw new CommandLineError("give --scenario NAME|FILE for one scenario or --scenarios for several, not both");
      if (options.variant !== undefined && options.scenario === undefined) throw new CommandLineError("--variant names a variant of the one scenario --scenario gives");
      const defences = parseDefences(options.defences);
      const engine = engineNamed(options.engine);
      const maxPackets = parseMaxPackets(options.maxPackets);
      const scenarios = options.scenario !== undefined ? [loadScenario(resolveScenarioRef(options.scenario), options.variant ?? null)] : selection(options.scenarios);
      for (const scenario of scenarios) checkPacketBudget(scenario, maxPackets);
      const outputs = planOutputs(
        ["compare.json", "compare.html", "compare.svg"].map((name) => ({ flag: "--out", path: join(options.out, name) })),
        scenarios.flatMap(scenarioFiles),
      );
      process.stderr.write(`compare: ${scenarios.length} scenario${scenarios.length === 1 ? "" : "s"} x ${defences.length} defences on the ${engine.name} engine\n`);
      const runs = await compareDefences(scenarios, defences, engine, (run) => process.stderr.write(`  ${run.scenario} / ${run.defence}: ${run.passwordsFound} passwords found, ${run.metrics.attackDelivered} of ${run.metrics.attackSent} attack requests through, ${run.metrics.legitRegistrationsLost} phones never registered\n`));
      const report = compareReport(engine.name, defences, runs, summarizeDefences(runs, defences));
      await writeOutputs([
        { output: outputs[0]!, data: `${JSON.stringify(report, null, 2)}\n` },
        { output: outputs[1]!, data: renderCompareHtml(report) },
        { output: outputs[2]!, data: renderCompareSvg(report) },
      ]);
      process.stdout.write(`${renderCompareTerminal(report)}wrote ${outputs[0]!.path}, ${outputs[1]!.path} and ${outputs[2]!.path}\n`);
    });
}

function selection(text: string | undefined): Scenario[] {
  if (text === undefined) return listBuiltinScenarios().map((entry) => loadScenario(entry.file, null));
  if (existsSync(text) && statSync(text).isDirectory()) {
    const files = readdirSync(text).filter((name) => /\.ya?ml$/.test(name)).sort();
    if (files.length === 0) throw new DefenceError(`${text} holds no scenario (*.yaml)`);
    return files.map((name) => loadScenario(join(text, name), null));
  }
  return text.split(",").map((ref) => loadScenario(resolveScenarioRef(ref.trim()), null));
}
