import type { Policy } from "../firewall/policy.js";
import { validatePolicy } from "../firewall/validate-policy.js";
import type { Scenario } from "../scenario/scenario.js";
import { addressMappings, mapRulesetAddresses } from "../firewall/address-map.js";
import { fillTemplate, type RulesetTemplate } from "./ruleset-template.js";
import type { TuneSetting } from "./sweep-space.js";

/**
 * The policy a setting stands for. hashlimit gets the same budget as recent:
 * a burst of `hits` and a sustained rate of `hits` per `seconds`. nft-meter is
 * the recent budget written as nftables (generate-nft.ts): a token bucket of
 * `hits` per `seconds` whose burst lets `hits - 1` through.
 */
export function policyWithSetting(policy: Policy, setting: TuneSetting): Policy {
  const matcher =
    setting.matcher === "recent" || setting.matcher === "nft-meter"
      ? { kind: "recent" as const, hits: setting.hits, seconds: setting.seconds, name: policy.matcher.name }
      : {
          kind: "hashlimit" as const,
          rate: Math.max(1, Math.round((setting.hits * 60) / setting.seconds)),
          per: "minute" as const,
          burst: setting.hits,
          expireSeconds: Math.max(setting.seconds, 1),
          name: policy.matcher.name.slice(0, 15),
        };
  return validatePolicy({ ...policy, matcher }, `setting ${setting.matcher} hits=${setting.hits} seconds=${setting.seconds}`) as Policy;
}

export function scenarioWithSetting(scenario: Scenario, setting: TuneSetting, ruleset?: RulesetTemplate): Scenario {
  if (setting.matcher === "ruleset") {
    if (!ruleset) throw new Error("a ruleset setting without its ruleset");
    // The scenario's address map applies to the user's ruleset as to its own: values first, then addresses (lines stay).
    const filled = fillTemplate(ruleset, [setting.hits, setting.seconds].slice(0, ruleset.slots.length));
    if (ruleset.form === "nft") return { ...scenario, firewall: { kind: "ruleset", path: ruleset.path, text: filled } };
    return { ...scenario, firewall: { kind: "ruleset", path: ruleset.path, text: mapRulesetAddresses(filled, addressMappings(scenario.addressMap ?? {}), ruleset.path).text } };
  }
  if (scenario.firewall.kind !== "policy") throw new Error(`${scenario.name} runs its own ruleset; tune changes generated policies only`);
  return { ...scenario, firewall: { ...scenario.firewall, policy: policyWithSetting(scenario.firewall.policy, setting), format: setting.matcher === "nft-meter" ? "nft" : "iptables" } };
}
