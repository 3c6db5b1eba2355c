import { generateResponsiveRuleset } from "../firewall/generate-responsive.js";
import { looksLikeNft } from "../firewall/nft/parse-nft.js";
import { defaultPolicy } from "../firewall/policy.js";
import type { Scenario } from "../scenario/scenario.js";
import { DefenceError, fail2banFirewall, stockAsteriskJail } from "../scenario/with-fail2ban.js";

export { DefenceError };

/**
 * The defences an admin chooses between, run on the same traffic:
 *  - kernel: the scenario's own firewall (its policy or ruleset): netfilter
 *    counting REGISTERs per source, the reference post's argument;
 *  - fail2ban: no firewall of its own; fail2ban's stock asterisk jail reads
 *    Asterisk's log of failed requests and bans an address through an ipset
 *    its REJECT rule matches (the iptables-ipset ban action), or where the
 *    scenario's firewall is nftables through its nftables action's table;
 *  - kernel+fail2ban: both, fail2ban's rule first, as its action inserts it;
 *  - responsive: trust a source once the PBX has accepted a registration
 *    from it, and give strangers a handful of packets (generate-responsive.ts);
 *  - none: no firewall, Asterisk alone.
 */
export const defenceNames = ["kernel", "fail2ban", "kernel+fail2ban", "responsive", "none"] as const;
export type DefenceName = (typeof defenceNames)[number];

export const defenceDescriptions: Readonly<Record<DefenceName, string>> = {
  kernel: "the scenario's firewall: netfilter counts SIP requests per source and drops a source over its limit",
  fail2ban: "fail2ban's asterisk jail: 10 failed requests in Asterisk's log within 10 minutes ban the address for 10 minutes",
  "kernel+fail2ban": "the scenario's firewall, with fail2ban's asterisk jail in front of it",
  responsive: "a source is trusted once the PBX accepted a registration from it; strangers get 6 SIP packets a minute",
  none: "no firewall: Asterisk alone",
};

const ACCEPT_ALL = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";
/** No firewall on a host that runs nftables: what fail2ban's nftables action then stands beside. */
const ACCEPT_ALL_NFT = "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t}\n}\n";

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
  const { fail2ban: ownJail, ...alone } = scenario;
  switch (defence) {
    case "kernel":
      return scenario;
    case "none":
      return { ...alone, firewall: { kind: "ruleset", path: "(no firewall)", text: ACCEPT_ALL } };
    case "fail2ban": {
      // On a host whose firewall is nftables fail2ban bans through its nftables action, beside an empty table.
      const none = scenarioWithDefence(scenario, "none");
      const bare = usesNft(scenario) ? { ...none, firewall: { kind: "ruleset" as const, path: "(no firewall, nftables)", text: ACCEPT_ALL_NFT } } : none;
      return checked({ ...bare, fail2ban: ownJail ?? stockAsteriskJail });
    }
    case "kernel+fail2ban":
      return checked({ ...scenario, fail2ban: ownJail ?? stockAsteriskJail });
    case "responsive": {
      // On the PBX host, as PBX distributions run it (a ruleset file runs there), with the policy's ports and allowed sites.
      const policy = { ...(scenario.firewall.kind === "policy" ? scenario.firewall.policy : defaultPolicy), placement: "host" as const };
      return { ...alone, firewall: { kind: "ruleset", path: "(responsive firewall)", text: generateResponsiveRuleset(policy, { pbxAddress: scenario.pbx.address }) } };
    }
  }
}

/** The scenario's firewall is nftables (an nft ruleset, or a policy written as nft). */
function usesNft(scenario: Scenario): boolean {
  const firewall = scenario.firewall;
  return firewall.kind === "policy" ? firewall.format === "nft" : looksLikeNft(firewall.text);
}

/** A scenario fail2ban can stand beside (not nftables, not a router's policy): said before any run. */
function checked(scenario: Scenario): Scenario {
  fail2banFirewall(scenario, scenario.fail2ban!);
  return scenario;
}
