import type { Command } from "commander";
import { renderJson } from "../../report/render-json.js";
import { renderJunit } from "../../report/render-junit.js";
import { renderTerminal } from "../../report/render-terminal.js";
import { planOutputs, writeOutputs, type OutputTarget } from "../../report/output-files.js";
import { resolveScenarioRef } from "../../scenario/catalogue.js";
import { loadScenario, withFirewallFormat } from "../../scenario/load-scenario.js";
import { scenarioFiles } from "../../scenario/scenario-files.js";
import { CommandLineError, EXIT_EXPECTATION_FAILED, EXIT_PASSED } from "../exit-codes.js";
import { collect, parseKernelSettings, parseMaxPackets, parseSeed } from "../parse-options.js";
import { DEFAULT_PACKET_BUDGET, DEFAULT_STREAMED_PACKET_BUDGET } from "../../scenario/estimate-packets.js";
import { engineNamed, runScenario } from "../run-scenario.js";
import { terminalWidth, useColor } from "../terminal.js";
import { runPcapTargets, runPcaps } from "../../report/run-pcaps.js";

interface SimulateOptions {
  scenario?: string;
  variant?: string;
  firewallFormat?: string;
  seed?: string;
  engine: string;
  json?: string;
  junit?: string;
  pcapDir?: string;
  verdicts?: boolean;
  kernel?: string[];
  maxPackets?: string;
}

export function registerSimulateCommand(program: Command): void {
  program
    .command("simulate")
    .description("run one scenario (a built-in name or a YAML file) and check its expectations")
    .argument("[scenario]", "built-in scenario name or path to a scenario YAML (or give it with --scenario)")
    .option("-s, --scenario <name|file>", "built-in scenario name or path to a scenario YAML")
    .option("--variant <name>", "run a variant of the scenario")
    .option("--firewall-format <format>", "write the scenario's policy as iptables (default) or nft rules, loaded with nft -f")
    .option("--seed <n>", "override the scenario's seed")
    .option("--engine <name>", "engine: model (in-process simulator) or docker (real Asterisk and netfilter in containers)", "model")
    .option("--json <file>", "write the run report as JSON")
    .option("--verdicts", "include every per-packet verdict in the JSON report")
    .option("--junit <file>", "write JUnit XML")
    .option("--kernel <name=value>", "kernel parameter for the model engine, e.g. xt_recent.ip_list_tot=200 (repeatable)", collect)
    .option("--pcap-dir <dir>", "write delivered.pcapng and dropped.pcapng with the rule per packet")
    .option("--max-packets <n>", `refuse runs estimated to judge more packets than this (default ${DEFAULT_STREAMED_PACKET_BUDGET.toLocaleString("en-US")}; ${DEFAULT_PACKET_BUDGET.toLocaleString("en-US")} with --verdicts, --pcap-dir or the docker engine)`)
    .addHelpText("after", "\nExamples:\n  slamlab simulate nat-office\n  slamlab simulate my-pbx.yaml --variant no-allowlist --json out/run.json --junit out/run.xml")
    .action(async (positional: string | undefined, options: SimulateOptions) => {
      if (positional !== undefined && options.scenario !== undefined && positional !== options.scenario) throw new CommandLineError(`give the scenario once: "${positional}" or --scenario ${options.scenario}`);
      const ref = positional ?? options.scenario;
      if (ref === undefined) throw new CommandLineError("which scenario? slamlab simulate NAME|FILE (slamlab scenarios lists the built-ins)");
      const scenario = withFirewallFormat(loadScenario(resolveScenarioRef(ref), options.variant ?? null), options.firewallFormat);
      const seed = options.seed === undefined ? undefined : parseSeed(options.seed);
      const kernel = parseKernelSettings(options.kernel ?? []);
      const targets: OutputTarget[] = [
        ...(options.json ? [{ flag: "--json", path: options.json }] : []),
        ...(options.junit ? [{ flag: "--junit", path: options.junit }] : []),
        ...(options.pcapDir ? runPcapTargets(options.pcapDir) : []),
      ];
      // Checked before the run, so a long run never ends on an output it cannot write.
      const outputs = planOutputs(targets, scenarioFiles(scenario));
      const report = await runScenario(scenario, engineNamed(options.engine), { seed, kernel, keepPackets: options.pcapDir !== undefined, keepVerdicts: options.verdicts === true, maxPackets: parseMaxPackets(options.maxPackets) });
      process.stdout.write(renderTerminal(report, { color: useColor(), width: terminalWidth() }));
      const pcaps = options.pcapDir ? runPcaps(report.result) : [];
      const contents = [
        ...(options.json ? [renderJson(report, { verdicts: options.verdicts === true })] : []),
        ...(options.junit ? [renderJunit([report])] : []),
        ...pcaps,
      ];
      await writeOutputs(outputs.map((output, index) => ({ output, data: contents[index]! })));
      process.exitCode = report.passed ? EXIT_PASSED : EXIT_EXPECTATION_FAILED;
    });
}
