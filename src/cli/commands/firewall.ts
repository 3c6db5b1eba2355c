import { existsSync } from "node:fs";
import type { Command } from "commander";
import { generateHostRestore } from "../../firewall/generate-host-restore.js";
import { readPolicy } from "./read-policy.js";
import { readTextInput } from "../../input/read-text-input.js";
import { generateScript } from "../../firewall/generate-script.js";
import { generateNftRuleset } from "../../firewall/generate-nft.js";
import { generateNftScript } from "../../firewall/generate-nft-script.js";
import { looksLikeNft, parseNftRuleset } from "../../firewall/nft/parse-nft.js";
import { compileNftFirewall } from "../../engines/model/nftables/compile-nft.js";
import { parseRuleset } from "../../firewall/parse-ruleset.js";
import { compileFirewall } from "../../engines/model/netfilter/interpreter.js";
import { firewallState } from "../../engines/model/netfilter/firewall-state.js";
import { parseIpsetSave } from "../../firewall/ipset.js";
import { RulesetError } from "../../firewall/ruleset.js";
import { defaultKernelSettings } from "../../engines/model/kernel-settings.js";
import { isCanonicalIpv4 } from "../../net/address.js";
import { parseIpv6 } from "../../net/ipv6-address.js";
import { planOutputs, writeOutputs } from "../../report/output-files.js";
import { CommandLineError } from "../exit-codes.js";
import { perAddressIpv6Counters } from "../../firewall/ipv6-counters.js";
import { classifyFirewallInput, ipv6ImportNote, ipv6RuleCount, isHarmlessFailure, listingToRestore, scriptFailureError } from "../../firewall/import-firewall.js";
import { runFirewallScript } from "../../engines/docker/run-firewall-script.js";
import { terminalProgress } from "../image-progress.js";

interface GenerateOptions {
  policy: string;
  format: string;
  pbx: string;
  pbx6?: string;
  out?: string;
}

export function registerFirewallCommand(program: Command): void {
  const firewall = program.command("firewall").description("generate firewall rules from a policy, or check a ruleset the model can run");
  firewall
    .command("generate")
    .description("write the slamming-protection rules for a policy")
    .requiredOption("--policy <file|name>", "policy YAML/JSON file or built-in name (default, reference-2010, hashlimit, strict)")
    .option("--format <format>", "iptables-restore, script, nft (a table of its own, for nft -f) or nft-script (a script that installs that table)", "iptables-restore")
    .option("--pbx <address>", "the PBX address the rules protect", "198.51.100.10")
    .option("--pbx6 <address>", "the PBX's IPv6 address, when it has one (nft and nft-script): IPv6 sources are then counted per /64 in sets of their own")
    .option("--out <file>", "write to a file instead of standard output")
    .addHelpText("after", "\nExample: slamlab firewall generate --policy strict --format script --pbx 198.51.100.10 --out slamming.sh   # then: bash slamming.sh --dry-run")
    .action(async (options: GenerateOptions) => {
      if (!isCanonicalIpv4(options.pbx)) throw new CommandLineError(`--pbx ${JSON.stringify(options.pbx)}: expected an IPv4 address a.b.c.d (no spaces, no leading zeros)`);
      const outputs = options.out ? planOutputs([{ flag: "--out", path: options.out }], existsSync(options.policy) ? [options.policy] : []) : [];
      if (options.pbx6 !== undefined) {
        try {
          // Spaces and line breaks are refused, not trimmed: what was given is what the rules say.
          if (/\s/.test(options.pbx6)) throw new Error("it has a space or line break in it");
          parseIpv6(options.pbx6);
        } catch (error) {
          throw new CommandLineError(`--pbx6 ${JSON.stringify(options.pbx6)}: ${(error as Error).message}; give the PBX's IPv6 address, such as 2001:db8::10`);
        }
        if (options.format !== "nft" && options.format !== "nft-script") {
          throw new CommandLineError(`--pbx6 needs --format nft or nft-script: one inet table holds both families' rules; ${options.format} writes iptables rules, which are IPv4 only (ip6tables output is not made yet)`);
        }
      }
      const { policy } = await readPolicy(options.policy);
      const target = { pbxAddress: options.pbx, ...(options.pbx6 !== undefined ? { pbx6Address: options.pbx6 } : {}) };
      let text: string;
      if (options.format === "iptables-restore") text = generateHostRestore(policy, target);
      else if (options.format === "script") text = generateScript(policy, target);
      else if (options.format === "nft") text = generateNftRuleset(policy, target);
      else if (options.format === "nft-script") text = generateNftScript(policy, target);
      else throw new CommandLineError(`--format ${options.format}: choose iptables-restore, script, nft or nft-script`);
      if (outputs[0]) await writeOutputs([{ output: outputs[0], data: text }]);
      else process.stdout.write(text);
    });
  firewall
    .command("import")
    .description("turn the firewall you run (a shell script of iptables/ipset commands, an iptables-save file, or iptables -S output) into the iptables-save and ipset files slamlab reads")
    .argument("<input>", "a firewall script (run only in a throwaway lab container, never on this host), an iptables-save file, or iptables -S output")
    .requiredOption("--out <file>", "where the iptables-save form goes (a scenario's firewall.ruleset)")
    .option("--ipset <file>", "an `ipset save` file with sets the input uses (restored before a script runs)")
    .option("--ipset-out <file>", "where the sets go (default: the --out path with .ipset), when there are any")
    .option("--out6 <file>", "where a script's ip6tables rules go (default: the --out path with .v6), when it loads any")
    .option("--env <name=value>", "an environment variable for the script (repeatable), such as ALLOW_SITES=", (value: string, previous: string[] = []) => [...previous, value])
    .addHelpText("after", "\nExample: slamlab firewall import firewall.sh --out rules.v4   # the script runs in a lab container with no network; needs Docker")
    .action(async (input: string, options: { out: string; ipset?: string; ipsetOut?: string; out6?: string; env?: string[] }) => {
      const env: Record<string, string> = {};
      for (const pair of options.env ?? []) {
        const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(pair);
        if (!match) throw new CommandLineError(`--env ${JSON.stringify(pair)}: expected NAME=VALUE, such as ALLOW_SITES=`);
        env[match[1]!] = match[2]!;
      }
      const text = readTextInput(input, "a firewall script, an iptables-save file or iptables -S output");
      const givenSets = options.ipset === undefined ? undefined : readTextInput(options.ipset, "an ipset save file");
      if (givenSets !== undefined) parseIpsetSave(givenSets, options.ipset!);
      const kind = classifyFirewallInput(text);
      const inputs = [input, ...(options.ipset ? [options.ipset] : [])];
      const ipsetOut = options.ipsetOut ?? options.out.replace(/(\.[^./]*)?$/, ".ipset");
      // Both outputs are checked before anything runs: a clash with an input is refused, not discovered afterwards.
      const ipv6Out = options.out6 ?? options.out.replace(/(\.v4)?$/, ".v6");
      const [rulesOutput, setsOutput, ipv6Output] = planOutputs(
        [
          { flag: "--out", path: options.out },
          { flag: "--ipset-out", path: ipsetOut === options.out ? `${options.out}.ipset` : ipsetOut },
          { flag: "--out6", path: ipv6Out },
        ],
        inputs,
      );
      let ipv6Text = "";
      let rulesetText: string;
      let setsText = givenSets ?? "";
      if (kind !== "script" && options.env?.length) throw new CommandLineError(`--env is for scripts; ${input} is ${kind === "iptables-list" ? "iptables -S output" : "an iptables-save file"}, which runs nothing`);
      if (kind === "iptables-save") rulesetText = text;
      else if (kind === "iptables-list") rulesetText = listingToRestore(text);
      else {
        const run = await runFirewallScript(input, { ...(options.ipset ? { ipsetPath: options.ipset } : {}), env, progress: terminalProgress() });
        const failure = scriptFailureError(input, run.failures, run.stderr);
        if (failure) throw failure;
        for (const ignored of run.failures.filter(isHarmlessFailure)) {
          process.stderr.write(`slamlab: note: ${input}: line ${ignored.line}: \`${ignored.command}\` failed in the lab container (no kernel modules, services or persistent files there); it changes no rule, so it is ignored\n`);
        }
        if (run.status !== 0 && !run.endedOnHarmlessFailure) throw new RulesetError("SCRIPT_FAILED", `${input}: the script exited with status ${run.status} in the lab container: ${run.stderr.trim().split("\n").slice(-3).join(" / ").slice(0, 400)}`);
        rulesetText = run.rulesetText;
        ipv6Text = run.ipv6RulesetText;
        setsText = run.ipsetText;
        if (!/^-A /m.test(rulesetText)) throw new RulesetError("SCRIPT_NO_RULES", `${input}: the script ran in the lab container but loaded no iptables rule; is it the script that sets up the firewall (it may call another file, which is not there)?`);
      }
      // Errors name what the user gave: his file, or the rules his script made.
      const ruleset = parseRuleset(rulesetText, kind === "iptables-save" ? input : kind === "iptables-list" ? `${input} (as iptables-restore input)` : `the rules ${input} made (iptables-save)`);
      const hasSets = /^create /m.test(setsText);
      const hasIpv6 = ipv6RuleCount(ipv6Text) > 0;
      await writeOutputs([
        { output: rulesOutput!, data: rulesetText.endsWith("\n") ? rulesetText : `${rulesetText}\n` },
        ...(hasSets ? [{ output: setsOutput!, data: setsText.endsWith("\n") ? setsText : `${setsText}\n` }] : []),
        ...(hasIpv6 ? [{ output: ipv6Output!, data: ipv6Text.endsWith("\n") ? ipv6Text : `${ipv6Text}\n` }] : []),
      ]);
      const rules = [...ruleset.tables.values()].map((table) => `${table.name} ${[...table.chains.values()].reduce((sum, chain) => sum + chain.rules.length, 0)}`).join(", ");
      const from = kind === "script" ? "a script, run in a lab container" : kind === "iptables-list" ? "iptables -S output" : "an iptables-save file";
      process.stdout.write(`${input} (${from}) -> ${options.out}: rules per table: ${rules}${hasSets ? `; ${parseIpsetSave(setsText, setsOutput!.path).size} sets -> ${setsOutput!.path}` : ""}\n`);
      const ipv6Note = kind === "script" ? ipv6ImportNote(input, rulesetText, ipv6Text, hasIpv6 ? ipv6Output!.path : null) : null;
      if (ipv6Note) process.stderr.write(`slamlab: note: ${ipv6Note}\n`);
      if (hasIpv6) for (const note of perAddressIpv6Counters(ipv6Text, ipv6Output!.path)) process.stderr.write(`slamlab: note: ${note}\n`);
      // What the model cannot run is said now, not at the first simulate.
      const problems: RulesetError[] = [];
      compileFirewall(ruleset, firewallState(defaultKernelSettings, [], hasSets ? { path: setsOutput!.path, text: setsText } : undefined), problems);
      for (const problem of problems) process.stderr.write(`slamlab: note: ${problem.message} (the docker engine runs it)\n`);
    });
  firewall
    .command("check")
    .description("parse an iptables-save file or an nftables ruleset and report whether the model engine can run it")
    .argument("<file>", "iptables-save / iptables-restore text, or `nft list ruleset` / nft -f text")
    .option("--ipset <file>", "the `ipset save` file with the sets the rules name (-m set, SET)")
    .option("--ipv6", "the file holds ip6tables rules (ip6tables-save output without its header line, which says so itself)")
    .addHelpText("after", "\nExample: iptables-save > rules.v4 && ipset save > sets.ipset && slamlab firewall check rules.v4 --ipset sets.ipset\n         ip6tables-save > rules.v6 && slamlab firewall check rules.v6")
    .action((file: string, options: { ipset?: string; ipv6?: boolean }) => {
      // Every rule the model cannot run is listed, not only the first.
      const problems: RulesetError[] = [];
      const text = readTextInput(file, "an iptables-save / iptables-restore file or an nftables ruleset");
      if (looksLikeNft(text)) {
        if (options.ipset !== undefined) throw new RulesetError("NFT_IPSET", `${file}: --ipset is for iptables rules; an nftables ruleset declares its sets itself`);
        const nft = parseNftRuleset(text, file, problems);
        compileNftFirewall(nft, defaultKernelSettings, file, problems);
        throwProblems(problems, file, "constructs");
        for (const table of nft.tables) {
          const rules = [...table.chains.values()].reduce((sum, chain) => sum + chain.rules.length, 0);
          const base = [...table.chains.values()].filter((chain) => chain.base).map((chain) => `${chain.name} (${chain.base!.hook} ${chain.base!.priority}, policy ${chain.base!.policy})`);
          const maps = [...table.sets.values()].filter((set) => set.data !== null).length;
          const sets = `${table.sets.size - maps} sets${maps ? `, ${maps} maps` : ""}`;
          process.stdout.write(`${file}: table ${table.family} ${table.name}: ${table.chains.size} chains, ${rules} rules, ${sets}${base.length ? `; base chains ${base.join(", ")}` : ""}\n`);
        }
        process.stdout.write(`${file}: the model engine can run this nftables ruleset\n`);
        return;
      }
      // ip6tables-save names itself in its header: its rules are read as ip6tables-restore reads them.
      const family = options.ipv6 === true || /^# Generated by ip6tables-save\b/m.test(text) ? 6 : 4;
      const ruleset = parseRuleset(text, file, problems, family);
      const ipset = options.ipset === undefined ? undefined : { path: options.ipset, text: readTextInput(options.ipset, "an ipset save file") };
      compileFirewall(ruleset, firewallState(defaultKernelSettings, [], ipset), problems);
      try {
        throwProblems(problems, file, "rules");
      } catch (error) {
        // IPv6 addresses in rules read as IPv4: most likely ip6tables-save output without its header line.
        if (error instanceof RulesetError && family === 4 && /(?:^|\s)(?:-s|-d|--source|--destination)\s+!?\s*[0-9a-f]*:[0-9a-f:]*/im.test(text)) {
          throw new RulesetError(error.code, `${error.message}\n${file}: its rules name IPv6 addresses: if it is ip6tables-save output, check it with --ipv6`);
        }
        throw error;
      }
      if (ipset) process.stdout.write(`${ipset.path}: ${parseIpsetSave(ipset.text, ipset.path).size} sets\n`);
      for (const table of ruleset.tables.values()) {
        const rules = [...table.chains.values()].reduce((sum, chain) => sum + chain.rules.length, 0);
        process.stdout.write(`${file}: table ${table.name}: ${table.chains.size} chains, ${rules} rules\n`);
      }
      if (family === 6) for (const note of perAddressIpv6Counters(text, file)) process.stderr.write(`slamlab: note: ${note}\n`);
      process.stdout.write(`${file}: the model engine can run this ${family === 6 ? "ip6tables " : ""}ruleset\n`);
    });
}

/** Every problem at once, by line: one is thrown as it is, several as a list under the file's name. */
function throwProblems(problems: readonly RulesetError[], file: string, what: string): void {
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) {
    const lineOf = (problem: RulesetError) => Number(/: line (\d+):/.exec(problem.message)?.[1] ?? 0);
    const listed = [...problems].sort((a, b) => lineOf(a) - lineOf(b)).map((problem) => `  ${problem.message}`);
    throw new RulesetError(problems[0]!.code, `${file}: ${problems.length} ${what} the model engine cannot run as written:\n${listed.join("\n")}`);
  }
}
