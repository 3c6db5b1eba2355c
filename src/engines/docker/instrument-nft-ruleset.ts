import { formatNftRuleset, tokenText } from "../../firewall/nft/format-nft.js";
import { NO_BASE_CHAIN, nftChainLabel, splitElements, type NftChain, type NftRule, type NftRuleset, type NftSet, type NftTable, type NftToken } from "../../firewall/nft/nft-ruleset.js";
import { parseNftRuleset } from "../../firewall/nft/parse-nft.js";
import { VERDICT_GROUP } from "./instrument-ruleset.js";

const VERDICTS: Readonly<Record<string, string>> = { accept: "ACCEPT", drop: "DROP", reject: "REJECT" };
/** The suffix of the regular chain a base chain's rules move into. */
const BODY = "__slamlab";
/** The prefix of the chains that log a verdict map's element, and of the maps copied to send to them. */
const VERDICT_MAP_LOG = "__slamlab_vmap_";

/**
 * An nftables ruleset as the lab loads it: before every accept, drop and
 * reject a `counter log prefix "v:CHAIN:INDEX:VERDICT" group 65000`, so nft
 * logs what each rule decided to the NFLOG group the iptables rules log to.
 * Each base chain's rules move into a regular chain it jumps to, followed by
 * the log of its policy: the policy is logged however the rules end (their
 * end, a return, a goto'd chain's return). A packet that passes several
 * base chains logs once per chain; the last record is its verdict (a drop
 * ends the packet's way). The counters say how many records the log holds.
 * A verdict map's accept and drop elements become a goto to a chain of
 * their own that logs the rule's verdict and gives it (a named map is copied
 * per rule that reads it, so each rule's elements log that rule).
 */
export function instrumentNftRuleset(text: string, source = "ruleset"): string {
  const ruleset = parseNftRuleset(text, source);
  const labels = new Map<string, string>();
  const tables: NftTable[] = ruleset.tables.map((table) => {
    // An arp table decides ARP frames only, which no verdict is kept for: loaded as written.
    if (table.family === "arp") return table;
    const chains = new Map<string, NftChain>();
    for (const chain of table.chains.values()) {
      const label = nftChainLabel(table, chain.name);
      // A nat chain maps a connection's first packet, and accepts: what decides the packet is logged by the filter chains.
      if (chain.base?.type === "nat") {
        chains.set(chain.name, chain);
        continue;
      }
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
    const sets = new Map(table.sets);
    for (const chain of [...chains.values()]) {
      if (chain.base) continue;
      const label = labels.get(`${table.family} ${table.name} ${chain.name}`)!;
      chains.set(chain.name, { ...chain, rules: chain.rules.map((rule) => logVerdictMap(rule, label, chain.name, chains, sets)) });
    }
    return { ...table, chains, sets };
  });
  const log = (label: string, index: number, verdict: string) => `counter log prefix "v:${label}:${index}:${verdict}" group ${VERDICT_GROUP}`;
  const instrumented: NftRuleset = { tables };
  return FIRST_RECORD + formatNftRuleset(instrumented, {
    rule: (table, chain, index, tokens) => {
      const words = tokens.map(tokenText);
      // A base chain only jumps to its body; a verdict map's log chain logs already.
      const at = chain.base || chain.name.startsWith(VERDICT_MAP_LOG) ? -1 : verdictAt(tokens);
      if (at < 0) return words.join(" ");
      const label = labels.get(`${table.family} ${table.name} ${chain.name}`)!;
      return [...words.slice(0, at), log(label, index + 1, VERDICTS[tokens[at]!.text]!), ...words.slice(at)].join(" ");
    },
    after: (table, chain) => (chain.base && chain.base.type !== "nat" && table.family !== "arp" ? [log(nftChainLabel(table, chain.name), 0, chain.base.policy === "accept" ? "ACCEPT" : "DROP")] : []),
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

/**
 * A rule with a verdict map, its accept and drop elements sent (goto) to a
 * chain that logs this rule's verdict first: the map's element decides, and
 * the log says which rule did, as for any other rule.
 */
function logVerdictMap(rule: NftRule, label: string, chainName: string, chains: Map<string, NftChain>, sets: Map<string, NftSet>): NftRule {
  const at = rule.tokens.findIndex((token) => token.text === "vmap" && !token.quoted);
  if (at < 0) return rule;
  const line = rule.line;
  const word = (text: string): NftToken => ({ text, quoted: false, line });
  const verdictChain = (verdict: string): string => {
    const name = `${VERDICT_MAP_LOG}${chainName}_${rule.index}_${verdict}`;
    if (!chains.has(name)) {
      const log = `counter log prefix "v:${label}:${rule.index}:${VERDICTS[verdict]}" group ${VERDICT_GROUP} ${verdict}`;
      chains.set(name, { name, line, base: null, rules: [{ index: 1, line, text: log, tokens: [...["counter", "log", "prefix"].map(word), { text: `v:${label}:${rule.index}:${VERDICTS[verdict]}`, quoted: true, line }, ...["group", String(VERDICT_GROUP), verdict].map(word)] }] });
    }
    return name;
  };
  /** An element's tokens with an accept or drop after its colon turned into a goto. */
  const element = (tokens: readonly NftToken[]): NftToken[] => {
    const colon = tokens.findIndex((token) => token.text === ":");
    const data = tokens.slice(colon + 1);
    if (colon < 0 || data.length !== 1 || (data[0]!.text !== "accept" && data[0]!.text !== "drop")) return [...tokens];
    return [...tokens.slice(0, colon + 1), word("goto"), word(verdictChain(data[0]!.text))];
  };
  const target = rule.tokens[at + 1];
  if (target?.text.startsWith("@")) {
    const map = sets.get(target.text.slice(1));
    if (!map) return rule;
    const copy = `${VERDICT_MAP_LOG}${map.name}_${chainName}_${rule.index}`;
    sets.set(copy, { ...map, name: copy, elements: map.elements.map(element) });
    return { ...rule, tokens: [...rule.tokens.slice(0, at + 1), word(`@${copy}`), ...rule.tokens.slice(at + 2)] };
  }
  if (target?.text !== "{") return rule;
  let close = at + 1;
  for (let depth = 0; close < rule.tokens.length; close++) {
    if (rule.tokens[close]!.text === "{") depth++;
    if (rule.tokens[close]!.text === "}" && --depth === 0) break;
  }
  const rewritten = splitElements(rule.tokens.slice(at + 2, close), true).map(element);
  const body = rewritten.flatMap((item, index) => (index ? [word(","), ...item] : item));
  return { ...rule, tokens: [...rule.tokens.slice(0, at + 2), ...body, ...rule.tokens.slice(close)] };
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
