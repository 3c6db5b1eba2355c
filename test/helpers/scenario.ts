import { policySchema } from "../../src/firewall/policy.js";
import type { Scenario } from "../../src/scenario/scenario.js";
import { scenarioSchema } from "../../src/scenario/schema.js";

/** A scenario built in code: the schema fills defaults; the firewall is a policy or ruleset text. */
export function scenarioOf(document: Record<string, unknown>, firewall: { policy?: Record<string, unknown>; rulesetText?: string } = {}): Scenario {
  const parsed = scenarioSchema.parse({ firewall: { policy: "default" }, ...document });
  return {
    ...parsed,
    variant: null,
    file: "<test>",
    firewall:
      firewall.rulesetText !== undefined
        ? { kind: "ruleset", path: "<test>.rules", text: firewall.rulesetText }
        : { kind: "policy", policy: policySchema.parse(firewall.policy ?? {}), policyName: "test" },
  };
}

export const acceptAll = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";

export function dropFrom(address: string): string {
  return `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -s ${address} -j DROP\nCOMMIT\n`;
}
