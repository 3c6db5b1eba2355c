import { policyIpv6RulesetText } from "../firewall/policy-ruleset.js";
import type { GenerateTarget } from "../firewall/slamming-rules.js";
import type { FirewallSpec, Scenario } from "../scenario/scenario.js";

/**
 * The ip6tables rules a run's IPv6 packets meet, as both engines load them:
 * the scenario's ruleset6, or a policy's own for a PBX with an IPv6 address
 * (nft's policy table holds both families itself); undefined when there are none.
 */
export function ipv6RulesOf(scenario: Scenario, firewall: FirewallSpec): { readonly path: string; readonly text: string } | undefined {
  if (firewall.kind === "ruleset") return firewall.ipv6;
  if (firewall.format === "nft" || scenario.pbx.address6 === undefined) return undefined;
  return { path: "generated ip6tables rules", text: policyIpv6RulesetText(firewall.policy, policyTarget(scenario)) };
}

/** Where a scenario's policy protects: the PBX's address, and its IPv6 one when it has one (nft's table then counts IPv6 per /64 too). */
export function policyTarget(scenario: Scenario): GenerateTarget {
  return { pbxAddress: scenario.pbx.address, ...(scenario.pbx.address6 === undefined ? {} : { pbx6Address: scenario.pbx.address6 }) };
}
