import type { Command } from "commander";
import { DockerEngine } from "../../engines/docker/docker-engine.js";
import { judgeRecorded } from "../../engines/model/judge-recorded.js";
import { ModelEngine } from "../../engines/model/model-engine.js";
import { writeFileAtomic } from "../../report/write-file-atomic.js";
import { resolveScenarioRef } from "../../scenario/catalogue.js";
import { loadScenario } from "../../scenario/load-scenario.js";
import { compareRuns, type Disagreement } from "../../verdict/compare-runs.js";
import { EXIT_EXPECTATION_FAILED, EXIT_PASSED } from "../exit-codes.js";
import { terminalProgress } from "../image-progress.js";
import { parseSeed } from "../parse-options.js";

const percent = (part: number, whole: number) => (whole === 0 ? "-" : `${((100 * part) / whole).toFixed(2)}%`);

function describe(disagreement: Disagreement): string {
  const rule = (ref: Disagreement["model"]["rule"]) => `${ref.chain}:${ref.index || "policy"}`;
  return `${(disagreement.realAtUs / 1e6).toFixed(3)} s  ${disagreement.source}/${disagreement.agent} ${disagreement.direction} #${disagreement.position}: model ${disagreement.model.verdict} (${rule(disagreement.model.rule)}), kernel ${disagreement.real.verdict} (${rule(disagreement.real.rule)}); model state: ${disagreement.modelState || "empty"}`;
}

/** `slamlab diff`: the same scenario on both engines, compared packet by packet. */
export function registerDiffCommand(program: Command): void {
  program
    .command("diff")
    .description("run a scenario on the model and the docker engine and compare their verdicts packet by packet")
    .requiredOption("-s, --scenario <name|file>", "built-in scenario name or path to a scenario YAML")
    .option("--variant <name>", "run a variant of the scenario")
    .option("--seed <n>", "override the scenario's seed")
    .option("--json <file>", "write the comparison as JSON")
    .action(async (options: { scenario: string; variant?: string; seed?: string; json?: string }) => {
      const scenario = loadScenario(resolveScenarioRef(options.scenario), options.variant ?? null);
      const seed = options.seed === undefined ? undefined : parseSeed(options.seed);
      const model = await new ModelEngine().run(scenario, { seed });
      const real = await new DockerEngine(terminalProgress()).run(scenario, { seed, keepPackets: true });
      const placement = scenario.firewall.kind === "policy" ? scenario.firewall.policy.placement : "host";
      const comparison = compareRuns(model, real, judgeRecorded(real, placement));
      const label = scenario.variant ? `${scenario.name} [${scenario.variant}]` : scenario.name;
      const lines = [
        `diff ${label}: model vs docker (seed ${model.seed})`,
        `  ${comparison.paired} packets paired (${comparison.unpaired} judged by one engine only): ${percent(comparison.agreeing, comparison.paired)} agree`,
        `  timing-only differences: ${comparison.timingOnly.length} (${percent(comparison.timingOnly.length, comparison.paired)}): the model agrees with the kernel at the kernel's packet times`,
        `  semantic differences: ${comparison.semantic.length} (${percent(comparison.semantic.length, comparison.paired)})`,
        ...comparison.semantic.slice(0, 20).map((disagreement) => `    SEMANTIC  ${describe(disagreement)}`),
        ...comparison.timingOnly.slice(0, 10).map((disagreement) => `    timing    ${describe(disagreement)}`),
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
      if (options.json) await writeFileAtomic(options.json, `${JSON.stringify({ scenario: label, seed: model.seed, ...comparison }, null, 2)}\n`);
      process.exitCode = comparison.semantic.length === 0 ? EXIT_PASSED : EXIT_EXPECTATION_FAILED;
    });
}
