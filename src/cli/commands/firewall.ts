import { existsSync } from "node:fs";
import type { Command } from "commander";
import { generateHostRestore } from "../../firewall/generate-host-restore.js";
import { readPolicy } from "./read-policy.js";
import { readTextInput } from "../../input/read-text-input.js";
import { generateScript } from "../../firewall/generate-script.js";
import { parseRuleset } from "../../firewall/parse-ruleset.js";
import { compileFirewall } from "../../engines/model/netfilter/interpreter.js";
import { firewallState } from "../../engines/model/netfilter/firewall-state.js";
import { parseIpsetSave } from "../../firewall/ipset.js";
import { RulesetError } from "../../firewall/ruleset.js";
import { defaultKernelSettings } from "../../engines/model/kernel-settings.js";
import { isCanonicalIpv4 } from "../../net/address.js";
import { planOutputs, writeOutputs } from "../../report/output-files.js";
import { CommandLineError } from "../exit-codes.js";

interface GenerateOptions {
  policy: string;
  format: string;
  pbx: string;
  out?: string;
}

export function registerFirewallCommand(program: Command): void {
  const firewall = program.command("firewall").description("generate firewall rules from a policy, or check a ruleset the model can run");
  firewall
    .command("generate")
    .description("write the slamming-protection rules for a policy")
    .requiredOption("--policy <file|name>", "policy YAML/JSON file or built-in name (default, reference-2010, hashlimit, strict)")
    .option("--format <format>", "iptables-restore or script", "iptables-restore")
    .option("--pbx <address>", "the PBX address the rules protect", "198.51.100.10")
    .option("--out <file>", "write to a file instead of standard output")
    .addHelpText("after", "\nExample: slamlab firewall generate --policy strict --format script --pbx 198.51.100.10 --out slamming.sh   # then: bash slamming.sh --dry-run")
    .action(async (options: GenerateOptions) => {
      if (!isCanonicalIpv4(options.pbx)) throw new CommandLineError(`--pbx ${JSON.stringify(options.pbx)}: expected an IPv4 address a.b.c.d (no spaces, no leading zeros)`);
      const outputs = options.out ? planOutputs([{ flag: "--out", path: options.out }], existsSync(options.policy) ? [options.policy] : []) : [];
      const { policy } = readPolicy(options.policy);
      let text: string;
      if (options.format === "iptables-restore") text = generateHostRestore(policy, { pbxAddress: options.pbx });
      else if (options.format === "script") text = generateScript(policy, { pbxAddress: options.pbx });
      else throw new CommandLineError(`--format ${options.format}: choose iptables-restore or script`);
      if (outputs[0]) await writeOutputs([{ output: outputs[0], data: text }]);
      else process.stdout.write(text);
    });
  firewall
    .command("check")
    .description("parse an iptables-save file and report whether the model engine can run it")
    .argument("<file>", "iptables-save / iptables-restore text")
    .option("--ipset <file>", "the `ipset save` file with the sets the rules name (-m set, SET)")
    .addHelpText("after", "\nExample: iptables-save > rules.v4 && ipset save > sets.ipset && slamlab firewall check rules.v4 --ipset sets.ipset")
    .action((file: string, options: { ipset?: string }) => {
      // Every rule the model cannot run is listed, not only the first.
      const problems: RulesetError[] = [];
      const ruleset = parseRuleset(readTextInput(file, "an iptables-save / iptables-restore file"), file, problems);
      const ipset = options.ipset === undefined ? undefined : { path: options.ipset, text: readTextInput(options.ipset, "an ipset save file") };
      compileFirewall(ruleset, firewallState(defaultKernelSettings, [], ipset), problems);
      if (problems.length === 1) throw problems[0]!;
      if (problems.length > 1) {
        const lineOf = (problem: RulesetError) => Number(/: line (\d+):/.exec(problem.message)?.[1] ?? 0);
        const listed = [...problems].sort((a, b) => lineOf(a) - lineOf(b)).map((problem) => `  ${problem.message}`);
        throw new RulesetError(problems[0]!.code, `${file}: ${problems.length} rules the model engine cannot run as written:\n${listed.join("\n")}`);
      }
      if (ipset) process.stdout.write(`${ipset.path}: ${parseIpsetSave(ipset.text, ipset.path).size} sets\n`);
      for (const table of ruleset.tables.values()) {
        const rules = [...table.chains.values()].reduce((sum, chain) => sum + chain.rules.length, 0);
        process.stdout.write(`${file}: table ${table.name}: ${table.chains.size} chains, ${rules} rules\n`);
      }
      process.stdout.write(`${file}: the model engine can run this ruleset\n`);
    });
}
