import type { NftChain, NftRuleset, NftSet, NftTable, NftToken } from "./nft-ruleset.js";

/**
 * An NftRuleset as `nft -f` input again: defines already expanded, one rule
 * per line, each chain's base declaration and each set's properties written
 * the way nft reads them. `rule` can rewrite each rule's tokens (the docker
 * engine adds its verdict logging there); `after` adds lines at the end of a
 * chain.
 */
export interface FormatHooks {
  readonly rule?: (table: NftTable, chain: NftChain, index: number, tokens: readonly NftToken[]) => string;
  readonly after?: (table: NftTable, chain: NftChain) => readonly string[];
}

export function tokenText(token: NftToken): string {
  return token.quoted ? `"${token.text}"` : token.text;
}

export function formatNftRuleset(ruleset: NftRuleset, hooks: FormatHooks = {}): string {
  const lines: string[] = [];
  for (const table of ruleset.tables) {
    lines.push(`table ${table.family} ${table.name} {`);
    // Named counters before the rules that count into them (nft refuses `counter name X` for an X not yet declared).
    for (const name of table.counters.keys()) lines.push(`\tcounter ${name} {`, "\t}");
    for (const object of table.statefulObjects.values()) lines.push(`\t${object.kind} ${object.name} {`, `\t\t${object.tokens.map(tokenText).join(" ")}`, "\t}");
    for (const helper of table.ctHelpers.values()) {
      lines.push(`\tct helper ${helper.name} {`, `\t\ttype "${helper.type}" protocol ${helper.protocol};`, ...(helper.l3proto ? [`\t\tl3proto ${helper.l3proto};`] : []), "\t}");
    }
    for (const set of table.sets.values()) lines.push(...formatSet(set));
    for (const chain of table.chains.values()) {
      lines.push(`\tchain ${chain.name} {`);
      const devices = chain.base?.devices;
      const device = !devices?.length ? "" : devices.length === 1 ? ` device "${devices[0]}"` : ` devices = { ${devices.map((name) => `"${name}"`).join(", ")} }`;
      if (chain.base) lines.push(`\t\ttype ${chain.base.type} hook ${chain.base.hook}${device} priority ${chain.base.priority}; policy ${chain.base.policy};`);
      for (const [index, rule] of chain.rules.entries()) {
        lines.push(`\t\t${hooks.rule ? hooks.rule(table, chain, index, rule.tokens) : rule.tokens.map(tokenText).join(" ")}`);
      }
      for (const line of hooks.after?.(table, chain) ?? []) lines.push(`\t\t${line}`);
      lines.push("\t}");
    }
    lines.push("}");
  }
  return `${lines.join("\n")}\n`;
}

function formatSet(set: NftSet): string[] {
  const lines = [`\t${set.data === null ? "set" : "map"} ${set.name} {`, `\t\ttype ${set.type.join(" . ")}${set.data === null ? "" : ` : ${set.data}`}`];
  if (set.flags.size) lines.push(`\t\tflags ${[...set.flags].join(",")}`);
  if (set.timeoutMs) lines.push(`\t\ttimeout ${set.timeoutMs}ms`);
  if (set.gcIntervalMs) lines.push(`\t\tgc-interval ${set.gcIntervalMs}ms`);
  if (set.size) lines.push(`\t\tsize ${set.size}`);
  if (set.elements.length) lines.push(`\t\telements = { ${set.elements.map((element) => element.map(tokenText).join(" ")).join(", ")} }`);
  lines.push("\t}");
  return lines;
}
