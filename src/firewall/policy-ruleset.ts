import { generateNftRuleset } from "./generate-nft.js";
import { generateRuleset } from "./generate-ruleset.js";
import type { Policy } from "./policy.js";
import type { GenerateTarget } from "./slamming-rules.js";

/** A policy's rules as the engines load them: iptables-restore text, or an nft table of its own. */
export function policyRulesetText(policy: Policy, format: "iptables" | "nft" | undefined, target: GenerateTarget): string {
  return format === "nft" ? generateNftRuleset(policy, target) : generateRuleset(policy, target);
}
