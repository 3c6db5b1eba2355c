import { restoreWord } from "../firewall/generate-ruleset.js";
import { parseRuleset } from "../firewall/parse-ruleset.js";
import { splitQualifiedChain } from "../firewall/ruleset.js";
import { tokenizeRule } from "../firewall/tokenize-rule.js";
import { TuneError } from "./sweep-space.js";
import { looksLikeNft } from "../firewall/nft/parse-nft.js";
import { fillNftSlots, nftRulesetSlots } from "./nft-ruleset-template.js";
import type { RulesetSlot } from "./ruleset-slot.js";

export type { RulesetSlot };

/**
 * An admin's own ruleset with the numbers he wants swept: each named by its
 * rule and option (`SIP-REG:2 --hitcount`), which becomes one axis of the
 * sweep. Filling a setting in rewrites only those option values; every other
 * byte of his ruleset stays his.
 */
export interface RulesetTemplate {
  readonly path: string;
  readonly text: string;
  /** iptables-save, or nftables (`nft list ruleset` / `nft -f`): how the slots are found and filled. */
  readonly form: "iptables" | "nft";
  /** The swept options, the first on the sweep's "hits" axis, the second on its "seconds" axis. */
  readonly slots: readonly RulesetSlot[];
}


/**
 * `CHAIN:INDEX --option=VALUES` (a table prefix allowed: `raw:PREROUTING:1`;
 * for nft `input:3`, `filter input:3` or `inet filter input:3`), or for an nft
 * set's declaration `@NAME --option=VALUES`: the target, the rule (null for a
 * set), the option, the values text.
 */
export function parseRuleParam(text: string): { chain: string; index: number | null; option: string; values: string } | null {
  const rule = /^\s*(\S.*?):(\d+)\s+--([a-z][a-z0-9-]*)=(\S+)\s*$/.exec(text);
  if (rule) return { chain: rule[1]!, index: Number(rule[2]), option: rule[3]!, values: rule[4]! };
  const set = /^\s*((?:\S+\s+){0,2}@\S+)\s+--([a-z][a-z0-9-]*)=(\S+)\s*$/.exec(text);
  if (set) return { chain: set[1]!, index: null, option: set[2]!, values: set[3]! };
  return null;
}

export function rulesetTemplate(path: string, text: string, params: ReadonlyArray<{ chain: string; index: number | null; option: string }>): RulesetTemplate {
  const nft = looksLikeNft(text);
  if (params.length === 0 || params.length > 2) {
    throw new TuneError(
      nft
        ? `--ruleset ${path}: name one or two values to sweep, such as --param 'input:3 --rate=5..40' --param '@blocked --timeout=30..300'`
        : `--ruleset ${path}: name one or two options to sweep, such as --param 'SIP-REG:2 --hitcount=5..40' --param 'SIP-REG:2 --seconds=30..300'`,
    );
  }
  const template = nft ? { path, text, form: "nft" as const, slots: nftRulesetSlots(path, text, params.map((param) => ({ target: param.chain, index: param.index, option: param.option }))) } : iptablesTemplate(path, text, params);
  if (new Set(template.slots.map((slot) => `${slot.line} ${slot.span?.start ?? ""} ${slot.option}`)).size !== template.slots.length) throw new TuneError(`--param: the two swept options are the same one (${template.slots[0]!.label})`);
  return template;
}

function iptablesTemplate(path: string, text: string, params: ReadonlyArray<{ chain: string; index: number | null; option: string }>): RulesetTemplate {
  const ruleset = parseRuleset(text, path);
  const lines = text.split("\n");
  const slots = params.map(({ chain, index, option }): RulesetSlot => {
    if (index === null) throw new TuneError(`--param '${chain} --${option}': ${path} is an iptables-save file; name a rule, 'CHAIN:INDEX --option=VALUES' (@SET names an nft set)`);
    const { table, chain: chainName } = splitQualifiedChain(chain);
    const label = `${chain}:${index} --${option}`;
    const rules = ruleset.tables.get(table)?.chains.get(chainName)?.rules;
    if (!rules) throw new TuneError(`--param '${label}': ${path} has no chain ${chainName} in table ${table}`);
    const rule = rules[index - 1];
    if (!rule) throw new TuneError(`--param '${label}': chain ${chainName} of ${path} has ${rules.length} rules`);
    const words = tokenizeRule(lines[rule.line - 1]!.replace(/^\s*\[\d+:\d+\]\s*/, ""), rule.line);
    const at = words.indexOf(`--${option}`);
    const value = words[at + 1];
    if (at < 0 || value === undefined || !/^\d+$/.test(value)) {
      throw new TuneError(`--param '${label}': ${path}: line ${rule.line} has no --${option} with a whole number to sweep (the rule: ${rule.text.trim()})`);
    }
    return { label, line: rule.line, option, current: Number(value) };
  });
  return { path, text, form: "iptables", slots };
}

/** The ruleset with the swept options set to `values` (in slot order). */
export function fillTemplate(template: RulesetTemplate, values: readonly number[]): string {
  if (template.form === "nft") return fillNftSlots(template.text, template.slots, values);
  const lines = template.text.split("\n");
  template.slots.forEach((slot, index) => {
    const original = lines[slot.line - 1]!;
    const counters = /^\s*\[\d+:\d+\]\s*/.exec(original)?.[0] ?? "";
    const words = tokenizeRule(original.slice(counters.length), slot.line);
    words[words.indexOf(`--${slot.option}`) + 1] = String(values[index]);
    lines[slot.line - 1] = `${counters}${words.map(restoreWord).join(" ")}`;
  });
  return lines.join("\n");
}
