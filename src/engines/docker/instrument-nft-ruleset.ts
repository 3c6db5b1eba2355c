import { formatNftRuleset, tokenText } from "../../firewall/nft/format-nft.js";
import { NO_BASE_CHAIN, nftChainLabel, type NftChain, type NftRuleset, type NftTable, type NftToken } from "../../firewall/nft/nft-ruleset.js";
import { parseNftRuleset } from "../../firewall/nft/parse-nft.js";
import { VERDICT_GROUP } from "./instrument-ruleset.js";

const VERDICTS: Readonly<Record<string, string>> = { accept: "ACCEPT", drop: "DROP", reject: "REJECT" };
/** The suffix of the regular chain a base chain's rules move into. */
const BODY = "__slamlab";

/**
 * An nftables ruleset as the lab loads it: before every accept, drop and
 * reject a `counter log prefix "v:CHAIN:INDEX:VERDICT" group 65000`, so nft
 * logs what each rule decided to the NFLOG group the iptables rules log to.
 * Each base chain's rules move into a regular chain it jumps to, followed by
 * the log of its policy: the policy is logged however the rules end (their
 * end, a return, a goto'd chain's return). A packet that passes several
 * base chains logs once per chain; the last record is its verdict (a drop
 * ends the packet's way). The counters say how many records the log holds.
 */
export function instrumentNftRuleset(text: string, source = "ruleset"): string {
  const ruleset = parseNftRuleset(text, source);
  const labels = new Map<string, string>();
  const tables: NftTable[] = ruleset.tables.map((table) => {
    const chains = new Map<string, NftChain>();
    for (const chain of table.chains.values()) {
      const label = nftChainLabel(table, chain.name);
      if (!chain.base) {
        chains.set(chain.name, chain);
        labels.set(`${table.family} ${table.name} ${chain.name}`, label);
        continue;
      }
      const body = `${chain.name}${BODY}`;
      const word = (text: string): NftToken => ({ text, quoted: false, line: chain.line });
      chains.set(chain.name, { ...chain, rules: [{ index: 1, line: chain.line, text: `jump ${body}`, tokens: [word("jump"), word(body)] }] });
      chains.set(body, { name: body, line: chain.line, base: null, rules: chain.rules });
      labels.set(`${table.family} ${table.name} ${body}`, label);
    }
    return { ...table, chains };
  });
  const log = (label: string, index: number, verdict: string) => `counter log prefix "v:${label}:${index}:${verdict}" group ${VERDICT_GROUP}`;
  const instrumented: NftRuleset = { tables };
  return FIRST_RECORD + formatNftRuleset(instrumented, {
    rule: (table, chain, index, tokens) => {
      const words = tokens.map(tokenText);
      const at = chain.base ? -1 : verdictAt(tokens);
      if (at < 0) return words.join(" ");
      const label = labels.get(`${table.family} ${table.name} ${chain.name}`)!;
      return [...words.slice(0, at), log(label, index + 1, VERDICTS[tokens[at]!.text]!), ...words.slice(at)].join(" ");
    },
    after: (table, chain) => (chain.base ? [log(nftChainLabel(table, chain.name), 0, chain.base.policy === "accept" ? "ACCEPT" : "DROP")] : []),
  });
}

/**
 * A record for every packet before any of the user's chains: a packet that
 * meets no base chain still has a verdict (accepted), as the model gives
 * it; a user's chain logs after it, and the last record wins. Priority -399:
 * after defragmentation (-400), before anything a user hooks in.
 */
const FIRST_RECORD = ["prerouting", "output"]
  .map((hook) => `table inet ${BODY}_first_${hook} {\n\tchain first {\n\t\ttype filter hook ${hook} priority -399; policy accept;\n\t\tcounter log prefix "v:${NO_BASE_CHAIN}:0:ACCEPT" group ${VERDICT_GROUP}\n\t}\n}\n`)
  .join("");

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
