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

/** A bot walking extensions over TCP or TLS for 5 s at 20 a second (100 REGISTERs), by default under a policy counting SIP over UDP and TCP by method. */
export function streamFlood(transport: "tcp" | "tls", flood: Record<string, unknown> = {}, policy: Record<string, unknown> = { sip: { transports: ["udp", "tcp"] } }): Scenario {
  return scenarioOf(
    {
      name: `${transport}-flood`,
      description: `a REGISTER flood over ${transport.toUpperCase()}`,
      durationSeconds: 10,
      pbx: { address: "198.51.100.10", accounts: [{ users: "200-219", password: "pbx-{user}-Str0ng" }] },
      hosts: { bot: { kind: "addresses", addresses: ["198.18.66.6"] } },
      traffic: [{ name: "flood", kind: "register-flood", host: "bot", mode: "svwar", ratePps: 20, durationSeconds: 5, giveUpSeconds: 0, transport, sourcePort: 40000, ...flood }],
    },
    { policy },
  );
}
