import { generateResponsiveRuleset } from "../firewall/generate-responsive.js";
import { defaultPolicy } from "../firewall/policy.js";
import type { Scenario } from "../scenario/scenario.js";

/**
 * The defences an admin chooses between, run on the same traffic:
 *  - kernel: the scenario's own firewall (its policy or ruleset): netfilter
 *    counting REGISTERs per source, the reference post's argument;
 *  - responsive: trust a source once the PBX has accepted a registration
 *    from it, and give strangers a handful of packets (generate-responsive.ts);
 *  - none: no firewall, Asterisk alone.
 */
export const defenceNames = ["kernel", "responsive", "none"] as const;
export type DefenceName = (typeof defenceNames)[number];

export const defenceDescriptions: Readonly<Record<DefenceName, string>> = {
  kernel: "the scenario's firewall: netfilter counts SIP requests per source and drops a source over its limit",
  responsive: "a source is trusted once the PBX accepted a registration from it; strangers get 6 SIP packets a minute",
  none: "no firewall: Asterisk alone",
};

const ACCEPT_ALL = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";

export class DefenceError extends Error {
  readonly code = "COMPARE_INPUT";
}

/** `kernel,responsive,none`: each known, none twice. */
export function parseDefences(text: string): DefenceName[] {
  const names = text.split(",").map((name) => name.trim());
  for (const name of names) {
    if (!(defenceNames as readonly string[]).includes(name)) throw new DefenceError(`--defences ${text}: ${name === "" ? "an empty name" : `"${name}"`} is not a defence slamlab runs; choose from ${defenceNames.join(", ")}`);
  }
  if (new Set(names).size !== names.length) throw new DefenceError(`--defences ${text}: a defence is named twice`);
  return names as DefenceName[];
}

/** The scenario with its firewall replaced by the defence's (its traffic, PBX and expectations untouched). */
export function scenarioWithDefence(scenario: Scenario, defence: DefenceName): Scenario {
  switch (defence) {
    case "kernel":
      return scenario;
    case "none":
      return { ...scenario, firewall: { kind: "ruleset", path: "(no firewall)", text: ACCEPT_ALL } };
    case "responsive": {
      // The scenario's policy says where the PBX sits, its SIP ports and its allowed sites.
      const policy = scenario.firewall.kind === "policy" ? scenario.firewall.policy : defaultPolicy;
      return { ...scenario, firewall: { kind: "ruleset", path: "(responsive firewall)", text: generateResponsiveRuleset(policy, { pbxAddress: scenario.pbx.address }) } };
    }
  }
}
