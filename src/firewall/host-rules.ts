import { formatIpv4, parseIpv4 } from "../net/address.js";
import type { Policy } from "./policy.js";
import { planSlammingRules, type GenerateTarget, type PlannedRule } from "./slamming-rules.js";

/**
 * On a production host slamlab owns its chains and one hook, nothing else.
 * SIP is steered from the entry chain, so the hook is the same rule whatever
 * the PBX address, ports or placement: a new `--pbx` never leaves an old hook.
 */
export const ENTRY_CHAIN = "SLAM-ENTRY";
export const HOOK_COMMENT = "slamlab-hook";
export const HOOK_WORDS = ["-m", "comment", "--comment", HOOK_COMMENT, "-j", ENTRY_CHAIN] as const;

/** Every chain any slamlab policy may create, so a rerun can remove the ones a new policy no longer needs. */
export const OWNED_CHAINS = [ENTRY_CHAIN, "SLAM-CHECK", "SLAM-COUNT", "SLAM-BLOCK", "SLAM-ESCALATE"] as const;

export interface HostRulePlan {
  /** INPUT (host placement) or FORWARD (router placement). */
  readonly hookChain: "INPUT" | "FORWARD";
  readonly chains: readonly string[];
  /** Rules inside slamlab's chains, in order; the hook is not among them. */
  readonly rules: readonly PlannedRule[];
  readonly allowChain: string;
  readonly pbxAddress: string;
}

export function planHostRules(policy: Policy, target: GenerateTarget): HostRulePlan {
  const plan = planSlammingRules(policy, target);
  const rules = plan.rules.map((rule) => (rule.section === "hook" ? { ...rule, chain: ENTRY_CHAIN } : rule));
  return {
    hookChain: plan.hookChain,
    chains: [ENTRY_CHAIN, ...plan.userChains],
    rules,
    allowChain: plan.allowChain,
    pbxAddress: formatIpv4(parseIpv4(target.pbxAddress)),
  };
}
