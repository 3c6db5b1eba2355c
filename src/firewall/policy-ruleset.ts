import { generateNftRuleset } from "./generate-nft.js";
import { generateRuleset } from "./generate-ruleset.js";
import type { Policy } from "./policy.js";
import type { GenerateTarget } from "./slamming-rules.js";

/**
 * The ip6tables rules beside a policy's iptables rules, for a PBX with an IPv6
 * address (pbx.address6): the same checks, an IPv6 source counted per /64.
 * nft's policy table holds both families itself.
 */
export function policyIpv6RulesetText(policy: Policy, target: GenerateTarget): string {
  return generateRuleset(policy, target, 6);
}

/** A policy's rules as the engines load them: iptables-restore text, or an nft table of its own. */
export function policyRulesetText(policy: Policy, format: "iptables" | "nft" | undefined, target: GenerateTarget): string {
  return format === "nft" ? generateNftRuleset(policy, target) : generateRuleset(policy, target);
}
