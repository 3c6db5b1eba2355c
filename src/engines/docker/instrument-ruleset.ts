import { restoreWord } from "../../firewall/generate-ruleset.js";
import { parseRuleset } from "../../firewall/parse-ruleset.js";
import { tokenizeRule } from "../../firewall/tokenize-rule.js";

/** NFLOG group the docker lab logs every verdict to; rulesets under test should not use it. */
export const VERDICT_GROUP = 65000;
const TERMINAL = new Set(["ACCEPT", "DROP", "REJECT"]);

/**
 * The ruleset as the lab loads it: every rule that decides (ACCEPT, DROP,
 * REJECT) jumps instead to a two-rule chain that logs "v:CHAIN:INDEX" to
 * NFLOG and then decides the same way, and each built-in chain ends with a
 * log of its policy. Matches are evaluated exactly once, as before, so
 * recent/hashlimit state is untouched; the log is the per-packet verdict.
 */
export function instrumentRuleset(text: string): string {
  const ruleset = parseRuleset(text, "ruleset");
  const filter = ruleset.tables.get("filter");
  if (!filter) return text;
  const lines = text.split(/\r?\n/);
  const chainsToAdd: string[] = [];
  const rulesToAdd: string[] = [];
  let counter = 0;
  for (const chain of filter.chains.values()) {
    for (const rule of chain.rules) {
      if (!rule.target || !TERMINAL.has(rule.target.kind)) continue;
      const words = tokenizeRule(lines[rule.line - 1]!.replace(/^\s*\[\d+:\d+\]\s*/, ""), rule.line);
      const jump = words.lastIndexOf("-j");
      if (jump < 0) continue;
      const verdictChain = `SLV${++counter}`;
      chainsToAdd.push(`:${verdictChain} - [0:0]`);
      rulesToAdd.push(
        `-A ${verdictChain} -j NFLOG --nflog-group ${VERDICT_GROUP} --nflog-prefix ${restoreWord(`v:${chain.name}:${rule.index}`)}`,
        `-A ${verdictChain} ${words.slice(jump).map(restoreWord).join(" ")}`,
      );
      lines[rule.line - 1] = [...words.slice(0, jump), "-j", verdictChain].map(restoreWord).join(" ");
    }
    if (chain.policy !== null) rulesToAdd.push(`-A ${chain.name} -j NFLOG --nflog-group ${VERDICT_GROUP} --nflog-prefix ${restoreWord(`v:${chain.name}:0`)}`);
  }
  // Declarations go before the filter table's first rule, the new rules just before its COMMIT.
  let inFilter = false;
  let declared = false;
  const out: string[] = [];
  for (const line of lines) {
    const trimmed = line.trim();
    if (trimmed === "*filter") inFilter = true;
    if (inFilter && !declared && /^(\[\d+:\d+\]\s*)?-[AI] /.test(trimmed)) {
      out.push(...chainsToAdd);
      declared = true;
    }
    if (inFilter && trimmed === "COMMIT") {
      if (!declared) out.push(...chainsToAdd);
      out.push(...rulesToAdd);
      inFilter = false;
    }
    out.push(line);
  }
  return out.join("\n");
}
