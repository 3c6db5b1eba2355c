import { restoreWord } from "../../firewall/generate-ruleset.js";
import { parseRuleset } from "../../firewall/parse-ruleset.js";
import { qualifiedChain, type IpFamily } from "../../firewall/ruleset.js";
import { tokenizeRule } from "../../firewall/tokenize-rule.js";

/** NFLOG group the docker lab logs every verdict to; rulesets under test should not use it. */
export const VERDICT_GROUP = 65000;
const TERMINAL = new Set(["ACCEPT", "DROP", "REJECT"]);
const FINAL_ELSEWHERE = new Set(["DROP", "REJECT"]);

/**
 * The ruleset as the lab loads it: every rule that decides (ACCEPT, DROP,
 * REJECT) jumps instead to a two-rule chain that logs "v:CHAIN:INDEX" to
 * NFLOG and then decides the same way, and each built-in chain ends with a
 * log of its policy. Matches are evaluated exactly once, as before, so
 * recent/hashlimit state is untouched; the log is the per-packet verdict.
 * Outside filter only what ends a packet's route is logged (a DROP rule or
 * policy; ACCEPT there passes the packet on to the next table), with the
 * chain named as verdicts name it (`raw:PREROUTING`).
 */
export function instrumentRuleset(text: string, family: IpFamily = 4): string {
  const ruleset = parseRuleset(text, "ruleset", undefined, family);
  // IPv6's neighbour discovery and multicast listener reports cross INPUT and OUTPUT all run long: its policies log everything else.
  const policyMatch = family === 6 ? "! -p ipv6-icmp " : "";
  const lines = text.split(/\r?\n/);
  const added = new Map<string, { chains: string[]; rules: string[] }>();
  let counter = 0;
  for (const table of ruleset.tables.values()) {
    const decides = table.name === "filter" ? TERMINAL : FINAL_ELSEWHERE;
    const chainsToAdd: string[] = [];
    const rulesToAdd: string[] = [];
    for (const chain of table.chains.values()) {
      const label = qualifiedChain(table.name, chain.name);
      for (const rule of chain.rules) {
        if (!rule.target || !decides.has(rule.target.kind)) continue;
        const words = tokenizeRule(lines[rule.line - 1]!.replace(/^\s*\[\d+:\d+\]\s*/, ""), rule.line);
        const jump = words.lastIndexOf("-j");
        if (jump < 0) continue;
        const verdictChain = `SLV${++counter}`;
        chainsToAdd.push(`:${verdictChain} - [0:0]`);
        rulesToAdd.push(
          `-A ${verdictChain} -j NFLOG --nflog-group ${VERDICT_GROUP} --nflog-prefix ${restoreWord(`v:${label}:${rule.index}`)}`,
          `-A ${verdictChain} ${words.slice(jump).map(restoreWord).join(" ")}`,
        );
        lines[rule.line - 1] = [...words.slice(0, jump), "-j", verdictChain].map(restoreWord).join(" ");
      }
      if (chain.policy !== null && (table.name === "filter" || chain.policy === "DROP")) {
        rulesToAdd.push(`-A ${chain.name} ${policyMatch}-j NFLOG --nflog-group ${VERDICT_GROUP} --nflog-prefix ${restoreWord(`v:${label}:0`)}`);
      }
    }
    added.set(table.name, { chains: chainsToAdd, rules: rulesToAdd });
  }
  // Declarations go before each table's first rule, the new rules just before its COMMIT.
  let current: { chains: string[]; rules: string[] } | undefined;
  let declared = false;
  const out: string[] = [];
  for (const line of lines) {
    const trimmed = line.trim();
    if (trimmed.startsWith("*")) {
      current = added.get(trimmed.slice(1));
      declared = false;
    }
    if (current && !declared && /^(\[\d+:\d+\]\s*)?-[AI] /.test(trimmed)) {
      out.push(...current.chains);
      declared = true;
    }
    if (current && trimmed === "COMMIT") {
      if (!declared) out.push(...current.chains);
      out.push(...current.rules);
      current = undefined;
    }
    out.push(line);
  }
  return out.join("\n");
}
