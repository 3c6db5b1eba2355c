import { nftDuration } from "../firewall/generate-nft.js";
import { parseNftDuration, parseNftRuleset } from "../firewall/nft/parse-nft.js";
import type { NftRuleset, NftTable } from "../firewall/nft/nft-ruleset.js";
import type { RulesetSlot } from "./ruleset-slot.js";
import { TuneError } from "./sweep-space.js";

/** A swept nft value: a rule's (`input:3 --rate`) or a set declaration's (`@blocked --timeout`). */
export interface NftParam {
  /** The chain (`input`, `filter input`, `inet filter input`) or, for a set, `@NAME` (`filter @NAME`...). */
  readonly target: string;
  /** The rule's 1-based position in its chain; null for a set. */
  readonly index: number | null;
  readonly option: string;
}

/** What each option finds: in a rule, the first such value in it; in a set, its declaration's own. */
const RULE_OPTIONS: Readonly<Record<string, RegExp>> = {
  // limit rate [over] N/unit, as nft_limit's rate; byte rates (N mbytes/second) are not swept.
  rate: /\blimit\s+rate\s+(?:over\s+)?(\d+)\s*\//d,
  burst: /\bburst\s+(\d+)\s+packets\b/d,
  timeout: /\btimeout\s+(\d[\ddhms]*)/d,
};
const SET_OPTIONS: Readonly<Record<string, RegExp>> = {
  timeout: /\btimeout\s+(\d[\ddhms]*)/d,
  size: /\bsize\s+(\d+)\b/d,
};
const LOWEST: Readonly<Record<string, number>> = { rate: 1, burst: 1, timeout: 1, size: 1 };

/**
 * The slots of an nft ruleset's values to sweep. Each is a span of the file's
 * text, so filling a setting in rewrites those few characters and leaves the
 * rest (comments, layout, counters) as the admin wrote it.
 */
export function nftRulesetSlots(path: string, text: string, params: readonly NftParam[]): RulesetSlot[] {
  const ruleset = parseNftRuleset(text, path);
  // Quoted strings (comments, log prefixes) never hold a swept value: blank them out, same length.
  const masked = text.replace(/"(?:[^"\\\n]|\\.)*"/g, (quoted) => " ".repeat(quoted.length));
  const lineStarts = [0];
  for (let at = masked.indexOf("\n"); at >= 0; at = masked.indexOf("\n", at + 1)) lineStarts.push(at + 1);
  const slotAt = (label: string, line: number, option: string, offset: number, valueText: string): RulesetSlot => {
    const duration = option === "timeout";
    const current = duration ? parseNftDuration(valueText) : Number(valueText);
    if (current === null || (duration && current % 1000 !== 0)) throw new TuneError(`--param '${label}': ${path}: line ${line}: timeout ${valueText} is not a whole number of seconds to sweep`);
    return { label, line, option, current: duration ? current / 1000 : current, span: { start: offset, end: offset + valueText.length, duration }, lowest: LOWEST[option] ?? 0 };
  };
  return params.map((param) => {
    const label = `${param.target}${param.index === null ? "" : `:${param.index}`} --${param.option}`;
    if (param.index === null) {
      const { table, name } = findSet(ruleset, param.target, label, path);
      const pattern = SET_OPTIONS[param.option];
      if (!pattern) throw new TuneError(`--param '${label}': a set's values to sweep are ${Object.keys(SET_OPTIONS).map((key) => `--${key}`).join(", ")}`);
      const set = table.sets.get(name)!;
      const body = setBody(masked, lineStarts[set.line - 1]!);
      const found = pattern.exec(body.text);
      if (!found) throw new TuneError(`--param '${label}': set ${name} (${path}: line ${set.line}) declares no ${param.option} to sweep; write one in it (${param.option === "timeout" ? "timeout 60s" : "size 65535"})`);
      const offset = body.start + found.indices![1]![0];
      return slotAt(label, lineOf(lineStarts, offset), param.option, offset, found[1]!);
    }
    const pattern = RULE_OPTIONS[param.option];
    if (!pattern) throw new TuneError(`--param '${label}': an nft rule's values to sweep are ${Object.keys(RULE_OPTIONS).map((key) => `--${key}`).join(", ")}`);
    const { table, chain } = findChain(ruleset, param.target, label, path);
    const rules = table.chains.get(chain)!.rules;
    const rule = rules[param.index - 1];
    if (!rule) throw new TuneError(`--param '${label}': chain ${chain} of ${path} has ${rules.length} rule${rules.length === 1 ? "" : "s"}`);
    const lineText = masked.slice(lineStarts[rule.line - 1]!, lineStarts[rule.line] ?? masked.length);
    const found = pattern.exec(lineText);
    if (!found) throw new TuneError(`--param '${label}': ${path}: line ${rule.line} has no ${param.option === "rate" ? "limit rate N/unit" : param.option === "burst" ? "burst N packets" : "timeout"} to sweep (the rule: ${rule.text.trim()})`);
    const offset = lineStarts[rule.line - 1]! + found.indices![1]![0];
    return slotAt(label, rule.line, param.option, offset, found[1]!);
  });
}

/** The ruleset's text with each slot's value replaced (durations written as nft prints them). */
export function fillNftSlots(text: string, slots: readonly RulesetSlot[], values: readonly number[]): string {
  const edits = slots.map((slot, index) => ({ span: slot.span!, value: values[index]! })).sort((a, b) => b.span.start - a.span.start);
  let filled = text;
  for (const { span, value } of edits) filled = `${filled.slice(0, span.start)}${span.duration ? nftDuration(value) : String(value)}${filled.slice(span.end)}`;
  return filled;
}

function lineOf(lineStarts: readonly number[], offset: number): number {
  let line = 0;
  while (line + 1 < lineStarts.length && lineStarts[line + 1]! <= offset) line++;
  return line + 1;
}

/** A set declaration's own level (its elements and nested braces blanked), from the `{` after `set NAME`. */
function setBody(masked: string, from: number): { start: number; text: string } {
  const open = masked.indexOf("{", from);
  let depth = 0;
  let body = "";
  for (let at = open; at < masked.length; at++) {
    const char = masked[at]!;
    if (char === "{") depth++;
    else if (char === "}" && --depth === 0) break;
    body += depth === 1 && char !== "{" ? char : " ";
  }
  return { start: open, text: body };
}

/** Tables a target's qualifier names: `inet filter`, `filter` or none (every table). */
function tablesNamed(ruleset: NftRuleset, words: readonly string[]): NftTable[] {
  if (words.length === 0) return ruleset.tables;
  if (words.length === 1) return ruleset.tables.filter((table) => table.name === words[0]);
  return ruleset.tables.filter((table) => table.family === words[0] && table.name === words[1]);
}

function findChain(ruleset: NftRuleset, target: string, label: string, path: string): { table: NftTable; chain: string } {
  const words = target.trim().split(/\s+/);
  const chain = words.pop()!;
  const found = tablesNamed(ruleset, words).filter((table) => table.chains.has(chain));
  if (found.length === 0) throw new TuneError(`--param '${label}': ${path} has no chain ${chain}${words.length ? ` in table ${words.join(" ")}` : ""}`);
  if (found.length > 1) throw new TuneError(`--param '${label}': tables ${found.map((table) => `${table.family} ${table.name}`).join(" and ")} of ${path} both have a chain ${chain}; name it with its table: '${found[0]!.family} ${found[0]!.name} ${chain}:INDEX'`);
  return { table: found[0]!, chain };
}

function findSet(ruleset: NftRuleset, target: string, label: string, path: string): { table: NftTable; name: string } {
  const words = target.trim().split(/\s+/);
  const name = words.pop()!.slice(1);
  const found = tablesNamed(ruleset, words).filter((table) => table.sets.has(name));
  if (found.length === 0) throw new TuneError(`--param '${label}': ${path} declares no set ${name}${words.length ? ` in table ${words.join(" ")}` : ""}`);
  if (found.length > 1) throw new TuneError(`--param '${label}': tables ${found.map((table) => `${table.family} ${table.name}`).join(" and ")} of ${path} both declare a set ${name}; name it with its table: '${found[0]!.family} ${found[0]!.name} @${name}'`);
  return { table: found[0]!, name };
}
