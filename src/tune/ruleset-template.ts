import { restoreWord } from "../firewall/generate-ruleset.js";
import { parseRuleset } from "../firewall/parse-ruleset.js";
import { splitQualifiedChain } from "../firewall/ruleset.js";
import { tokenizeRule } from "../firewall/tokenize-rule.js";
import { TuneError } from "./sweep-space.js";

/**
 * An admin's own ruleset with the numbers he wants swept: each named by its
 * rule and option (`SIP-REG:2 --hitcount`), which becomes one axis of the
 * sweep. Filling a setting in rewrites only those option values; every other
 * byte of his ruleset stays his.
 */
export interface RulesetTemplate {
  readonly path: string;
  readonly text: string;
  /** The swept options, the first on the sweep's "hits" axis, the second on its "seconds" axis. */
  readonly slots: readonly RulesetSlot[];
}

export interface RulesetSlot {
  /** As the user named it, for reports: `SIP-REG:2 --hitcount`. */
  readonly label: string;
  /** 1-based line of the rule in the file. */
  readonly line: number;
  readonly option: string;
  /** The value the file has. */
  readonly current: number;
}

/** `CHAIN:INDEX --option=VALUES` (a table prefix allowed: `raw:PREROUTING:1`): the rule, the option, the values text. */
export function parseRuleParam(text: string): { chain: string; index: number; option: string; values: string } | null {
  const match = /^\s*(\S+):(\d+)\s+--([a-z][a-z0-9-]*)=(\S+)\s*$/.exec(text);
  if (!match) return null;
  return { chain: match[1]!, index: Number(match[2]), option: match[3]!, values: match[4]! };
}

export function rulesetTemplate(path: string, text: string, params: ReadonlyArray<{ chain: string; index: number; option: string }>): RulesetTemplate {
  if (params.length === 0 || params.length > 2) throw new TuneError(`--ruleset ${path}: name one or two options to sweep, such as --param 'SIP-REG:2 --hitcount=5..40' --param 'SIP-REG:2 --seconds=30..300'`);
  const ruleset = parseRuleset(text, path);
  const lines = text.split("\n");
  const slots = params.map(({ chain, index, option }): RulesetSlot => {
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
  if (new Set(slots.map((slot) => `${slot.line} ${slot.option}`)).size !== slots.length) throw new TuneError(`--param: the two swept options are the same one (${slots[0]!.label})`);
  return { path, text, slots };
}

/** The ruleset with the swept options set to `values` (in slot order). */
export function fillTemplate(template: RulesetTemplate, values: readonly number[]): string {
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
