import { mkdirSync } from "node:fs";
import type { Command } from "commander";
import { compareEngines } from "../../engines/compare-engines.js";
import { DockerEngine } from "../../engines/docker/docker-engine.js";
import { buildLabImage } from "../../engines/docker/lab-image.js";
import { builtinCases, fidelityLogName, randomCases, runFidelitySuite, summarizeFidelity, type FidelityCase, type FidelityOutcome } from "../../engines/fidelity-suite.js";
import { planOutputs, writeOutputs } from "../../report/output-files.js";
import { scenarioFiles } from "../../scenario/scenario-files.js";
import { resolveScenarioRef } from "../../scenario/catalogue.js";
import { loadScenario, withFirewallFormat } from "../../scenario/load-scenario.js";
import { describeBanComparison } from "../../verdict/compare-bans.js";
import type { Disagreement } from "../../verdict/compare-runs.js";
import { CommandLineError, EXIT_EXPECTATION_FAILED, EXIT_PASSED } from "../exit-codes.js";
import { terminalProgress } from "../image-progress.js";
import { parseMaxPackets, parseSeed } from "../parse-options.js";
import { checkPacketBudget, DEFAULT_PACKET_BUDGET } from "../../scenario/estimate-packets.js";

/** Timing-only differences the suite tolerates, as a share of paired packets (issue 5). */
export const TIMING_ONLY_LIMIT = 0.001;

const percent = (part: number, whole: number) => (whole === 0 ? "-" : `${((100 * part) / whole).toFixed(2)}%`);

function describe(disagreement: Disagreement): string {
  const rule = (ref: Disagreement["model"]["rule"]) => `${ref.chain}:${ref.index || "policy"}`;
  return `${(disagreement.realAtUs / 1e6).toFixed(3)} s  ${disagreement.source}/${disagreement.agent} ${disagreement.direction} #${disagreement.position}: model ${disagreement.model.verdict} (${rule(disagreement.model.rule)}), kernel ${disagreement.real.verdict} (${rule(disagreement.real.rule)})\n      model's state, its own run: ${disagreement.modelState || "nothing"}\n      model's state at the kernel's times: ${disagreement.modelStateAtKernelTimes || "nothing"}`;
}

interface DiffOptions {
  scenario?: string;
  variant?: string;
  firewallFormat?: string;
  seed?: string;
  json?: string;
  builtins?: boolean;
  random?: string;
  firstSeed?: string;
  out: string;
  maxPackets?: string;
}

/** `slamlab diff`: scenarios on both engines, compared packet by packet. */
export function registerDiffCommand(program: Command): void {
  program
    .command("diff")
    .description("run scenarios on the model and the docker engine and compare their verdicts packet by packet")
    .option("-s, --scenario <name|file>", "built-in scenario name or path to a scenario YAML")
    .option("--variant <name>", "run a variant of the scenario")
    .option("--firewall-format <format>", "write the scenario's policy (with --builtins, each built-in's) as iptables (default) or nft rules, loaded with nft -f")
    .option("--seed <n>", "override the scenario's seed")
    .option("--builtins", "the differential suite: every built-in scenario and variant")
    .option("--random <n>", "the differential suite: n seeded random scenarios")
    .option("--first-seed <n>", "seed of the first random scenario", "1")
    .option("--out <dir>", "suite: where random scenarios and the results log (fidelity.jsonl) go; a rerun resumes from the log", "slamlab-fidelity")
    .option("--json <file>", "write the comparison (one scenario) or the suite's summary as JSON")
    .addHelpText("after", "\nExample: slamlab diff --scenario broken-phone   # or the suite: slamlab diff --builtins --random 200 --out fidelity/")
    .option("--max-packets <n>", `one scenario: refuse it if estimated to judge more packets than this (default ${DEFAULT_PACKET_BUDGET.toLocaleString("en-US")})`)
    .action(async (options: DiffOptions) => {
      const suite = options.builtins === true || options.random !== undefined;
      if (suite === (options.scenario !== undefined)) throw new CommandLineError("give --scenario NAME|FILE for one scenario, or --builtins and/or --random N for the differential suite");
      process.exitCode = suite ? await diffSuite(options) : await diffOne(options);
    });
}

async function diffOne(options: DiffOptions): Promise<number> {
  const scenario = withFirewallFormat(loadScenario(resolveScenarioRef(options.scenario!), options.variant ?? null), options.firewallFormat);
  checkPacketBudget(scenario, parseMaxPackets(options.maxPackets));
  const outputs = options.json ? planOutputs([{ flag: "--json", path: options.json }], scenarioFiles(scenario)) : [];
  const seed = options.seed === undefined ? undefined : parseSeed(options.seed);
  const { model, comparison, bans } = await compareEngines(scenario, new DockerEngine(terminalProgress()), seed);
  const label = scenario.variant ? `${scenario.name} [${scenario.variant}]` : scenario.name;
  const lines = [
    `diff ${label}: model vs docker (seed ${model.seed})`,
    `  ${comparison.paired} packets paired (${comparison.unpaired} judged by one engine only): ${percent(comparison.agreeing, comparison.paired)} agree`,
    `  timing-only differences: ${comparison.timingOnly.length} (${percent(comparison.timingOnly.length, comparison.paired)}): the model agrees with the kernel at the kernel's packet times${bans ? " and fail2ban's ban times" : ""}`,
    ...(bans ? [`  fail2ban: ${describeBanComparison(bans)}`] : []),
    `  semantic differences: ${comparison.semantic.length} (${percent(comparison.semantic.length, comparison.paired)})`,
    ...comparison.semantic.slice(0, 20).map((disagreement) => `    SEMANTIC  ${describe(disagreement)}`),
    ...comparison.timingOnly.slice(0, 10).map((disagreement) => `    timing    ${describe(disagreement)}`),
    ...(comparison.semantic.length + comparison.timingOnly.length > 0 ? ["  (the kernel's own state at a packet is not observable: NFLOG carries none)"] : []),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  if (outputs[0]) await writeOutputs([{ output: outputs[0], data: `${JSON.stringify({ scenario: label, seed: model.seed, ...comparison, ...(bans ? { fail2ban: bans } : {}) }, null, 2)}\n` }]);
  return comparison.semantic.length === 0 ? EXIT_PASSED : EXIT_EXPECTATION_FAILED;
}

async function diffSuite(options: DiffOptions): Promise<number> {
  const count = options.random === undefined ? 0 : parseSeed(options.random);
  const firstSeed = parseSeed(options.firstSeed ?? "1");
  const outputs = options.json ? planOutputs([{ flag: "--json", path: options.json }], [fidelityLogName(options.out)]) : [];
  mkdirSync(options.out, { recursive: true });
  if (options.firewallFormat !== undefined && options.firewallFormat !== "iptables" && options.firewallFormat !== "nft") throw new CommandLineError(`--firewall-format ${options.firewallFormat}: choose iptables or nft`);
  if (options.firewallFormat === "nft" && !options.builtins) throw new CommandLineError("--firewall-format nft writes the built-ins' policies as nft rules; give --builtins (random scenarios carry their own rulesets: seeds from 4001 are nftables)");
  const cases: FidelityCase[] = [...(options.builtins ? builtinCases(options.firewallFormat) : []), ...randomCases(firstSeed, count, options.out)];
  const log = fidelityLogName(options.out);
  process.stdout.write(`differential suite: ${cases.length} scenarios on the model and docker engines; results in ${log}\n`);
  const started = performance.now();
  const line = (outcome: FidelityOutcome, index: number) => {
    const left = ((performance.now() - started) / (index + 1)) * (cases.length - index - 1);
    const figures = outcome.error
      ? `ERROR ${outcome.error.split("\n")[0]}`
      : `${outcome.paired} paired, ${percent(outcome.agreeing, outcome.paired)} agree, ${outcome.timingOnly} timing-only, ${outcome.semantic} semantic, ${outcome.unpaired} unpaired`;
    process.stdout.write(`  [${index + 1}/${cases.length}] ${outcome.label}: ${figures} (about ${Math.ceil(left / 60_000)} min left)\n`);
    for (const disagreement of outcome.semanticSamples) process.stdout.write(`      SEMANTIC  ${describe(disagreement)}\n`);
  };
  // The image once, with progress; each run then finds it built and says nothing.
  await buildLabImage(terminalProgress());
  const outcomes = await runFidelitySuite(cases, new DockerEngine(), log, line);
  const summary = summarizeFidelity(outcomes);
  const timingShare = summary.paired === 0 ? 0 : summary.timingOnly / summary.paired;
  process.stdout.write(
    [
      `${summary.cases} scenarios (${summary.failedCases} could not run), ${summary.paired} packets paired, ${summary.unpaired} judged by one engine only`,
      `  agreement: ${percent(summary.agreeing, summary.paired)}`,
      `  semantic differences: ${summary.semantic} (${percent(summary.semantic, summary.paired)})${summary.casesWithSemantic.length ? ` in ${summary.casesWithSemantic.join(", ")}` : ""}`,
      `  timing-only differences: ${summary.timingOnly} (${percent(summary.timingOnly, summary.paired)}, limit ${percent(TIMING_ONLY_LIMIT, 1)})`,
      "",
    ].join("\n"),
  );
  if (outputs[0]) await writeOutputs([{ output: outputs[0], data: `${JSON.stringify({ summary, outcomes }, null, 2)}\n` }]);
  const passed = summary.failedCases === 0 && summary.semantic === 0 && timingShare < TIMING_ONLY_LIMIT;
  return passed ? EXIT_PASSED : EXIT_EXPECTATION_FAILED;
}
