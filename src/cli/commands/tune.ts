import { readTextInput } from "../../input/read-text-input.js";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { stringify } from "yaml";
import { isCanonicalIpv4 } from "../../net/address.js";
import { DockerEngine } from "../../engines/docker/docker-engine.js";
import { buildLabImage } from "../../engines/docker/lab-image.js";
import { defaultPolicy } from "../../firewall/policy.js";
import { generateHostRestore } from "../../firewall/generate-host-restore.js";
import { generateNftRuleset } from "../../firewall/generate-nft.js";
import { renderTuneCsv } from "../../report/render-tune-csv.js";
import { renderTuneHtml } from "../../report/render-tune-html.js";
import { planOutputs, writeOutputs, type PlannedOutput } from "../../report/output-files.js";
import { policyWithSetting } from "../../tune/apply-setting.js";
import { attackLetThrough, isUnsafe, legitimateHarm } from "../../tune/pareto.js";
import { runSweep } from "../../tune/run-sweep.js";
import type { SettingResult } from "../../tune/sweep-chunk.js";
import { analyseSweep, mergeReports, parseSweepReport, type SweepAnalysis, type SweepReport } from "../../tune/sweep-report.js";
import { gridSettings, parseRulesetSpace, parseSweepSpace, randomSettings, settingKey, shardOf, TuneError, type SweepSpace, type TuneSetting } from "../../tune/sweep-space.js";
import { fillTemplate, parseRuleParam, rulesetTemplate, type RulesetTemplate } from "../../tune/ruleset-template.js";
import { tuneScenarioRefs } from "../../tune/tune-scenarios.js";
import { neighbourhood, validateOnDocker } from "../../tune/validate-on-docker.js";
import { EXIT_EXPECTATION_FAILED, EXIT_PASSED } from "../exit-codes.js";
import { terminalProgress } from "../image-progress.js";
import { parseMaxPackets, parseSeed } from "../parse-options.js";
import { DEFAULT_PACKET_BUDGET } from "../../scenario/estimate-packets.js";

interface TuneOptions {
  scenarios?: string;
  param: string[];
  grid?: boolean;
  random?: string;
  seed: string;
  workers?: string;
  shard?: string;
  out: string;
  validate?: string;
  writePolicy?: string;
  pbx: string;
  maxPackets?: string;
  forceWorkers?: boolean;
  ruleset?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** `slamlab tune` and `slamlab tune merge`. */
export function registerTuneCommand(program: Command): void {
  const tune = program
    .command("tune")
    .description("sweep thresholds over scenarios on the model engine: Pareto front, a recommended setting, CSV/JSON/HTML reports")
    .option("--scenarios <dir|names>", "a directory of scenario YAMLs, or comma-separated built-in names/files (default: every built-in)")
    .option("--param <name=values>", "hits=2..40, seconds=5..300 (or 5..300:5, or 30,60,120), matcher=recent,hashlimit,nft-meter; with --ruleset, a rule's option: 'SIP-REG:2 --hitcount=5..40'; repeatable", collect, [])
    .option("--ruleset <file>", "sweep your own ruleset (iptables-save, or nftables as nft list ruleset prints it) instead of a generated policy: every scenario runs it, with the values --param names set to each value")
    .option("--grid", "every combination (the default); ranges without a step give at most 40 points")
    .option("--random <n>", "n settings drawn from the ranges instead of the grid")
    .option("--seed <n>", "seed for --random", "1")
    .option("--workers <n>", "worker threads (default: one per core)")
    .option("--shard <i/n>", "run only the i-th of n equal blocks of the settings (merge the results with tune merge)")
    .option("--out <dir>", "where results.json, results.csv and report.html go", "slamlab-tune")
    .option("--validate <engine>", "rerun the recommended setting and its neighbours on the docker engine")
    .option("--write-policy <file>", "write the recommended setting: an iptables-restore ruleset (.rules), an nftables table (.nft) or policy fields (.yaml)")
    .option("--pbx <address>", "the PBX address the written ruleset protects", "198.51.100.10")
    .option("--max-packets <n>", `refuse scenario runs estimated to judge more packets than this (default ${DEFAULT_PACKET_BUDGET.toLocaleString("en-US")})`)
    .option("--force-workers", "allow more --workers than this machine has cores")
    .addHelpText("after", "\nExample: slamlab tune --param hits=2..40 --param seconds=5..300 --out tune/ --write-policy tuned.rules")
    .action(async (options: TuneOptions) => {
      if (options.grid && options.random !== undefined) throw new TuneError("give --grid or --random N, not both");
      if (options.random !== undefined && parseSeed(options.random) < 1) throw new TuneError(`--random ${options.random}: expected at least 1 setting`);
      if (!isCanonicalIpv4(options.pbx)) throw new TuneError(`--pbx ${JSON.stringify(options.pbx)}: expected an IPv4 address a.b.c.d (no spaces, no leading zeros)`);
      if (options.ruleset !== undefined && options.writePolicy !== undefined && /\.ya?ml$/.test(options.writePolicy)) {
        throw new TuneError(`--write-policy ${options.writePolicy}: with --ruleset, tune writes your ruleset with the recommended values; name a .rules file (or .nft for an nftables ruleset)`);
      }
      if (options.validate !== undefined && options.validate !== "docker") throw new TuneError(`--validate ${options.validate}: the only engine to validate on is docker`);
      const grid = options.random === undefined;
      let template: RulesetTemplate | undefined;
      let space: SweepSpace;
      if (options.ruleset !== undefined) {
        const params = options.param.map((text) => {
          const param = parseRuleParam(text);
          if (!param) throw new TuneError(`--param ${text}: with --ruleset, name a rule's option and its values: 'CHAIN:INDEX --option=VALUES', such as 'SIP-REG:2 --hitcount=5..40' (nft: 'input:3 --rate=5..40', or a set's '@blocked --timeout=30..300')`);
          return param;
        });
        template = rulesetTemplate(options.ruleset, readTextInput(options.ruleset, "an iptables-save file or an nftables ruleset"), params);
        space = parseRulesetSpace(params.map((param, index) => ({ label: template!.slots[index]!.label, values: param.values, lowest: template!.slots[index]!.lowest })), grid);
      } else {
        space = parseSweepSpace(options.param, grid);
      }
      if (options.writePolicy !== undefined && template === undefined && !/\.ya?ml$/.test(options.writePolicy)) {
        const wantsNft = /\.nft$/.test(options.writePolicy);
        if (!space.matcher.some((matcher) => writesForm(options.writePolicy!, matcher))) {
          throw new TuneError(
            wantsNft
              ? `--write-policy ${options.writePolicy}: an nftables table is written for an nft-meter setting; add --param matcher=nft-meter (or name a .rules file)`
              : `--write-policy ${options.writePolicy}: every swept setting is nft-meter, an nftables limit; name a .nft file (or .yaml)`,
          );
        }
      }
      const refs = tuneScenarioRefs(options.scenarios, parseMaxPackets(options.maxPackets), template);
      let settings = grid ? gridSettings(space) : randomSettings(space, parseSeed(options.random!), parseSeed(options.seed));
      let shard = "1/1";
      if (options.shard !== undefined) {
        const match = /^(\d+)\/(\d+)$/.exec(options.shard);
        const index = Number(match?.[1]);
        const count = Number(match?.[2]);
        if (!match || count < 1 || index < 1 || index > count) throw new TuneError(`--shard ${options.shard}: expected i/n with 1 <= i <= n, such as 2/4`);
        settings = shardOf(settings, index, count);
        shard = options.shard;
      }
      const cores = availableParallelism();
      const workers = options.workers === undefined ? cores : parseSeed(options.workers);
      if (workers < 1) throw new TuneError("--workers must be at least 1");
      // Each worker holds a whole model run; more of them than cores only adds memory.
      if (workers > cores && !options.forceWorkers) throw new TuneError(`--workers ${workers}: this machine has ${cores} core${cores === 1 ? "" : "s"}; give at most ${cores}, or add --force-workers`);
      // Every output is checked before the sweep: an hour of work must not end on an unwritable path.
      const inputs = [...refs.map((ref) => ref.file), ...(options.ruleset ? [options.ruleset] : [])];
      const outputs = planOutputs(
        [
          ...reportTargets(options.out),
          ...(options.writePolicy ? [{ flag: "--write-policy", path: options.writePolicy }] : []),
          ...(options.validate ? [{ flag: "--validate", path: join(options.out, "validation.json") }] : []),
        ],
        inputs,
      );
      const [results, csv, html, ...rest] = outputs as [PlannedOutput, PlannedOutput, PlannedOutput, ...PlannedOutput[]];
      const policyOutput = options.writePolicy ? rest.shift() : undefined;
      const validationOutput = rest.shift();
      process.stderr.write(`tune: ${settings.length} settings x ${refs.length} scenario runs on ${workers} worker${workers === 1 ? "" : "s"}${shard === "1/1" ? "" : `, shard ${shard}`}\n`);
      const started = performance.now();
      const progress = progressBar(settings.length, started);
      const swept = await runSweep(refs, settings, workers, progress);
      process.stderr.write(`${process.stderr.isTTY ? "\r\u001b[2K" : ""}tune: ${settings.length} settings in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
      const axes = template ? { hits: template.slots[0]!.label, seconds: template.slots[1]?.label ?? "(not swept)" } : undefined;
      const report: SweepReport = { format: "slamlab-tune/1", scenarios: refs.map((ref) => ref.label), shard, ...(axes ? { axes } : {}), results: swept };
      const analysis = analyseSweep(swept);
      // A .nft or .rules file is written from the settings of its own form: the best of those, which need not be the best overall.
      const written = policyOutput && !template ? analyseSweep(swept.filter((result) => writesForm(policyOutput.path, result.setting.matcher))) : analysis;
      if (policyOutput && !written.recommendation) {
        await writeReports(report, analysis, [results, csv, html]);
        process.stdout.write(summary(report, analysis, options.out));
        throw new TuneError(`no setting to write: ${written.noRecommendation}`);
      }
      await writeOutputs([
        ...reportFiles(report, analysis, [results, csv, html]),
        ...(policyOutput ? [{ output: policyOutput, data: template ? rulesetText(template, written) : policyText(policyOutput.path, written, options.pbx) }] : []),
      ]);
      process.stdout.write(summary(report, analysis, options.out));
      if (policyOutput) process.stdout.write(`wrote the recommended setting to ${policyOutput.path}\n`);
      if (options.validate === "docker" && analysis.recommendation) {
        const around = neighbourhood(analysis.recommendation.result, swept);
        process.stdout.write(`validating ${around.map((result) => settingKey(result.setting)).join(", ")} on the docker engine (${around.length * refs.length} runs)\n`);
        await buildLabImage(terminalProgress());
        const runs = await validateOnDocker(refs, around, new DockerEngine(), (run) =>
          process.stdout.write(
            `  ${run.setting} / ${run.scenario}: ${run.agreeing}/${run.paired} packets agree, ${run.semantic} semantic, ${run.timingOnly} timing-only; safe on the model ${run.modelSafe ? "yes" : "no"}, on the kernel ${run.kernelSafe ? "yes" : "no"}\n`,
          ),
        );
        await writeOutputs([{ output: validationOutput!, data: `${JSON.stringify(runs, null, 2)}\n` }]);
        const holds = runs.every((run) => run.semantic === 0 && run.modelSafe === run.kernelSafe);
        process.stdout.write(holds ? "validation: the kernel agrees with the model on every rerun\n" : "validation: the kernel disagrees with the model (see above and validation.json)\n");
        process.exitCode = holds ? EXIT_PASSED : EXIT_EXPECTATION_FAILED;
      }
    });

  tune
    .command("merge")
    .description("combine the results.json of tune shards into one report")
    .argument("<results...>", "results.json files written by tune --shard")
    .addHelpText("after", "\nThe merged results.json, results.csv and report.html go to tune's --out DIR (default slamlab-tune).\nExample: slamlab tune merge shard-1/results.json shard-2/results.json --out tune/")
    .action(async (files: string[], _options: unknown, command: Command) => {
      // --out is tune's own option; commander gives it to the parent wherever it is written.
      const options = command.optsWithGlobals<{ out: string }>();
      const reports = files.map((file) => {
        const text = readTextInput(file, "a results.json that tune wrote");
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (error) {
          throw new TuneError(`${file}: not JSON (${(error as Error).message}); give the results.json files tune wrote`);
        }
        return { file, report: parseSweepReport(file, value) };
      });
      const outputs = planOutputs(reportTargets(options.out), files);
      const merged = mergeReports(reports);
      const analysis = analyseSweep(merged.results);
      await writeReports(merged, analysis, outputs);
      process.stdout.write(summary(merged, analysis, options.out));
    });
}

function progressBar(total: number, started: number): (done: number) => void {
  const tty = process.stderr.isTTY === true;
  let lastLine = 0;
  return (done) => {
    const now = performance.now();
    if (done < total && now - lastLine < (tty ? 200 : 5000)) return;
    lastLine = now;
    const elapsed = (now - started) / 1000;
    const left = (elapsed / done) * (total - done);
    const width = 30;
    const filled = Math.round((done / total) * width);
    const line = `tune [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} settings, ${elapsed.toFixed(0)} s, about ${left.toFixed(0)} s left`;
    process.stderr.write(tty ? `\r\u001b[2K${line}` : `${line}\n`);
  };
}

/** results.json, results.csv and report.html under --out, in the order reportFiles fills them. */
function reportTargets(out: string) {
  return ["results.json", "results.csv", "report.html"].map((name) => ({ flag: "--out", path: join(out, name) }));
}

function reportFiles(report: SweepReport, analysis: SweepAnalysis, outputs: readonly PlannedOutput[]) {
  const contents = [`${JSON.stringify(report)}\n`, renderTuneCsv(report), renderTuneHtml(report, analysis)];
  return outputs.map((output, index) => ({ output, data: contents[index]! }));
}

async function writeReports(report: SweepReport, analysis: SweepAnalysis, outputs: readonly PlannedOutput[]): Promise<void> {
  await writeOutputs(reportFiles(report, analysis, outputs));
}

/** A setting as the user named what it sets: his rule options, or the policy's hits and seconds. */
function describeSetting(setting: SettingResult["setting"], axes: SweepReport["axes"]): string {
  if (setting.matcher !== "ruleset" || !axes) return settingKey(setting);
  return axes.seconds === "(not swept)" ? `${axes.hits}=${setting.hits}` : `${axes.hits}=${setting.hits}, ${axes.seconds}=${setting.seconds}`;
}

function summary(report: SweepReport, analysis: SweepAnalysis, out: string): string {
  const row = (result: SettingResult) => {
    const total = result.total;
    const block = `${total.maxPacketsToBlock === null ? "-" : `${total.maxPacketsToBlock} req / ${total.maxSecondsToBlock!.toFixed(1)} s`}${total.attackersNeverBlocked ? ` (${total.attackersNeverBlocked} never)` : ""}`;
    return `  ${describeSetting(result.setting, report.axes).padEnd(34)} ${String(attackLetThrough(result)).padStart(8)} ${String(legitimateHarm(result)).padStart(7)} ${String(total.legitRegistrationsLost).padStart(7)}  ${block.padEnd(22)} ${isUnsafe(result) ? "UNSAFE" : "safe"}`;
  };
  const header = `  ${"setting".padEnd(34)} ${"attack".padStart(8)} ${"harm".padStart(7)} ${"lockout".padStart(7)}  ${"worst block".padEnd(22)}`;
  // Several matchers swept: the best each can do on the same scenarios, side by side (recent against nft-meter, say).
  const matchers = [...new Set(report.results.map((result) => result.setting.matcher))];
  const bestOfEach = matchers.length < 2 ? [] : ["Best setting of each matcher:", header, ...matchers.map((matcher) => {
    const best = analyseSweep(report.results.filter((result) => result.setting.matcher === matcher)).recommendation;
    return best ? row(best.result) : `  ${matcher.padEnd(34)} every setting locks a phone out somewhere`;
  })];
  return [
    `${report.results.length} settings over ${report.scenarios.length} scenario runs; ${analysis.unsafe} unsafe (a legitimate phone never registers somewhere)`,
    "Pareto front (attack let through vs legitimate harm):",
    header,
    ...analysis.front.map(row),
    ...bestOfEach,
    analysis.recommendation ? `recommended: ${analysis.recommendation.reason.replace(settingKey(analysis.recommendation.result.setting), describeSetting(analysis.recommendation.result.setting, report.axes))}` : `${analysis.noAttacker ? "nothing to recommend" : "no safe setting"}: ${analysis.noRecommendation}`,
    `wrote ${join(out, "results.json")}, ${join(out, "results.csv")}, ${join(out, "report.html")}`,
    "",
  ].join("\n");
}

/** The user's own ruleset with the recommended values, and a line saying where they came from. */
function rulesetText(template: RulesetTemplate, analysis: SweepAnalysis): string {
  const setting = analysis.recommendation!.result.setting;
  const values = [setting.hits, setting.seconds].slice(0, template.slots.length);
  const set = template.slots.map((slot, index) => `${slot.label}=${values[index]} (was ${slot.current})`).join(", ");
  const reason = analysis.recommendation!.reason.slice(analysis.recommendation!.reason.indexOf(": ") + 2);
  const filled = fillTemplate(template, values);
  // After a `#!/usr/sbin/nft -f` line, which must stay the first for the file to run.
  const shebang = filled.startsWith("#!") ? filled.slice(0, filled.indexOf("\n") + 1) : "";
  return `${shebang}# slamlab tune: ${set}: ${reason}\n${filled.slice(shebang.length)}`;
}

/** Whether a --write-policy file takes a setting of this matcher: .yaml any, .nft the nftables form, else the iptables one. */
function writesForm(file: string, matcher: TuneSetting["matcher"]): boolean {
  return /\.ya?ml$/.test(file) || /\.nft$/.test(file) === (matcher === "nft-meter");
}

/** The recommended setting in the form the file's name asks for (writesForm chose it among its own form's). */
function policyText(file: string, analysis: SweepAnalysis, pbxAddress: string): string {
  const setting = analysis.recommendation!.result.setting;
  const policy = policyWithSetting(defaultPolicy, setting);
  const nft = setting.matcher === "nft-meter";
  const note = `# slamlab tune: ${analysis.recommendation!.reason}\n`;
  if (/\.ya?ml$/.test(file)) return `${note}${nft ? "# as nftables rules: run it with firewall.format: nft\n" : ""}${stringify({ matcher: policy.matcher })}`;
  return nft ? `${note}${generateNftRuleset(policy, { pbxAddress })}` : generateHostRestore(policy, { pbxAddress });
}
