import { formatNftRuleset, tokenText } from "../../firewall/nft/format-nft.js";
import { nftChainLabel, type NftToken } from "../../firewall/nft/nft-ruleset.js";
import { parseNftRuleset } from "../../firewall/nft/parse-nft.js";
import { VERDICT_GROUP } from "./instrument-ruleset.js";

const VERDICTS: Readonly<Record<string, string>> = { accept: "ACCEPT", drop: "DROP", reject: "REJECT" };

/**
 * An nftables ruleset as the lab loads it: before every accept, drop and
 * reject a `counter log prefix "v:CHAIN:INDEX:VERDICT" group 65000`, and at
 * the end of each base chain the same for its policy, so each base chain a
 * packet leaves logs what it decided to the NFLOG group the iptables rules
 * log to. A packet that passes several base chains logs once per chain; the
 * last record is its verdict (a drop ends the packet's way). The counters
 * say how many records the log must hold.
 */
export function instrumentNftRuleset(text: string, source = "ruleset"): string {
  const ruleset = parseNftRuleset(text, source);
  const log = (label: string, index: number, verdict: string) => `counter log prefix "v:${label}:${index}:${verdict}" group ${VERDICT_GROUP}`;
  return formatNftRuleset(ruleset, {
    rule: (table, chain, index, tokens) => {
      const at = verdictAt(tokens);
      const words = tokens.map(tokenText);
      if (at < 0) return words.join(" ");
      return [...words.slice(0, at), log(nftChainLabel(table, chain.name), index + 1, VERDICTS[tokens[at]!.text]!), ...words.slice(at)].join(" ");
    },
    after: (table, chain) => (chain.base ? [log(nftChainLabel(table, chain.name), 0, chain.base.policy === "accept" ? "ACCEPT" : "DROP")] : []),
  });
}

/** Where the rule's verdict statement (accept, drop, reject) starts, outside any braces; -1 for none. */
function verdictAt(tokens: readonly NftToken[]): number {
  let depth = 0;
  let found = -1;
  for (const [index, token] of tokens.entries()) {
    if (token.quoted) continue;
    if (token.text === "{") depth++;
    else if (token.text === "}") depth--;
    else if (depth === 0 && VERDICTS[token.text] !== undefined) found = index;
  }
  return found;
}

/** Records the verdict-logging statements counted, from `nft list ruleset`. */
export function countNftLogRecords(listing: string): number {
  let total = 0;
  for (const match of listing.matchAll(/counter packets (\d+) bytes \d+ log prefix "v:[^"]*" group (\d+)/g)) {
    if (Number(match[2]) === VERDICT_GROUP) total += Number(match[1]);
  }
  return total;
}
