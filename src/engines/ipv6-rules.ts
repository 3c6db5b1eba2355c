import { policyIpv6RulesetText } from "../firewall/policy-ruleset.js";
import type { FirewallSpec, Scenario } from "../scenario/scenario.js";

/**
 * The ip6tables rules a run's IPv6 packets meet, as both engines load them:
 * the scenario's ruleset6, or a policy's own for a PBX with an IPv6 address
 * (nft's policy table holds both families itself); undefined when there are none.
 */
export function ipv6RulesOf(scenario: Scenario, firewall: FirewallSpec): { readonly path: string; readonly text: string } | undefined {
  if (firewall.kind === "ruleset") return firewall.ipv6;
  if (firewall.format === "nft" || scenario.pbx.address6 === undefined) return undefined;
  return { path: "generated ip6tables rules", text: policyIpv6RulesetText(firewall.policy, { pbxAddress: scenario.pbx.address, pbx6Address: scenario.pbx.address6 }) };
}
