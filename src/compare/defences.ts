import { generateResponsiveRuleset } from "../firewall/generate-responsive.js";
import { defaultPolicy } from "../firewall/policy.js";
import type { Fail2banDefence, Scenario } from "../scenario/scenario.js";
import { policyRulesetText } from "../firewall/policy-ruleset.js";
import { looksLikeNft } from "../firewall/nft/parse-nft.js";

/**
 * The defences an admin chooses between, run on the same traffic:
 *  - kernel: the scenario's own firewall (its policy or ruleset): netfilter
 *    counting REGISTERs per source, the reference post's argument;
 *  - fail2ban: no firewall of its own; fail2ban's stock asterisk jail reads
 *    Asterisk's log of failed requests and bans an address through an ipset
 *    its REJECT rule matches (the iptables-ipset ban action);
 *  - kernel+fail2ban: both, fail2ban's rule first, as its action inserts it;
 *  - responsive: trust a source once the PBX has accepted a registration
 *    from it, and give strangers a handful of packets (generate-responsive.ts);
 *  - none: no firewall, Asterisk alone.
 */
export const defenceNames = ["kernel", "fail2ban", "kernel+fail2ban", "responsive", "none"] as const;
export type DefenceName = (typeof defenceNames)[number];

/** jail.conf's [asterisk] and [DEFAULT] as fail2ban 1.x ships them. */
export const stockAsteriskJail: Fail2banDefence = {
  maxretry: 10,
  findtimeSeconds: 600,
  bantimeSeconds: 600,
  // fail2ban's threads wake at most once a second (the filter's poll, the actions' wait): an order of magnitude, not yet measured in the lab.
  banDelayUs: 1_000_000,
  set: "f2b-asterisk",
};

export const defenceDescriptions: Readonly<Record<DefenceName, string>> = {
  kernel: "the scenario's firewall: netfilter counts SIP requests per source and drops a source over its limit",
  fail2ban: "fail2ban's asterisk jail: 10 failed requests in Asterisk's log within 10 minutes ban the address for 10 minutes",
  "kernel+fail2ban": "the scenario's firewall, with fail2ban's asterisk jail in front of it",
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
    case "fail2ban":
      return withFail2ban(scenarioWithDefence(scenario, "none"), stockAsteriskJail);
    case "kernel+fail2ban":
      return withFail2ban(scenario, stockAsteriskJail);
    case "responsive": {
      // The scenario's policy says where the PBX sits, its SIP ports and its allowed sites.
      // On the PBX host, as PBX distributions run it (a ruleset file runs there), with the policy's ports and allowed sites.
      const policy = { ...(scenario.firewall.kind === "policy" ? scenario.firewall.policy : defaultPolicy), placement: "host" as const };
      return { ...scenario, firewall: { kind: "ruleset", path: "(responsive firewall)", text: generateResponsiveRuleset(policy, { pbxAddress: scenario.pbx.address }) } };
    }
  }
}

/**
 * The scenario with fail2ban beside its firewall: the set fail2ban's action
 * creates and its REJECT rule for the jail's ports (5060, 5061, UDP and TCP),
 * first in the chain the PBX's traffic meets, as `iptables -I` puts it.
 */
export function withFail2ban(scenario: Scenario, stockJail: Fail2banDefence): Scenario {
  let jail = stockJail;
  const firewall = scenario.firewall;
  const text = firewall.kind === "policy" ? policyRulesetText(firewall.policy, firewall.format, { pbxAddress: scenario.pbx.address }) : firewall.text;
  if (looksLikeNft(text)) throw new DefenceError(`${scenario.name}: its firewall is nftables; fail2ban beside it needs fail2ban's nftables action, which slamlab does not model yet (compare kernel and fail2ban apart, or write the policy as iptables)`);
  // A ruleset that has fail2ban's set already (the fail2ban-ipset scenario) keeps it: the jail fills one of its own beside it.
  const taken = new Set((firewall.kind === "ruleset" ? (firewall.ipset?.text ?? "") : "").split("\n").map((line) => /^create (\S+)/.exec(line)?.[1]).filter((name) => name !== undefined));
  let setName = jail.set;
  for (let suffix = 2; taken.has(setName); suffix++) setName = `${jail.set}-${suffix}`;
  jail = { ...jail, set: setName };
  // A ruleset runs on the PBX host, as fail2ban does (it reads the PBX's log): a router's policy beside it would be another machine.
  if (firewall.kind === "policy" && firewall.policy.placement === "router") throw new DefenceError(`${scenario.name}: its policy runs on a router; fail2ban runs on the PBX host, and two firewalls on the way are not modelled (compare kernel and fail2ban apart)`);
  const chain = "INPUT";
  const rules = ["udp", "tcp"].map((protocol) => `-A ${chain} -p ${protocol} -m multiport --dports 5060,5061 -m set --match-set ${jail.set} src -j REJECT --reject-with icmp-port-unreachable`);
  const lines = text.split("\n");
  const filter = lines.findIndex((line) => line.trim() === "*filter");
  if (filter < 0) throw new DefenceError(`${scenario.name}: its ruleset has no filter table for fail2ban's rule`);
  const end = lines.findIndex((line, index) => index > filter && line.trim() === "COMMIT");
  const firstRule = lines.findIndex((line, index) => index > filter && index < end && line.startsWith(`-A ${chain} `));
  lines.splice(firstRule >= 0 ? firstRule : end, 0, ...rules);
  const set = `create ${jail.set} hash:ip family inet hashsize 1024 maxelem 65536 timeout ${jail.bantimeSeconds}`;
  const ipset = firewall.kind === "ruleset" && firewall.ipset ? { path: firewall.ipset.path, text: `${firewall.ipset.text.trimEnd()}\n${set}\n` } : { path: "(fail2ban's set)", text: `${set}\n` };
  return { ...scenario, firewall: { kind: "ruleset", path: firewall.kind === "ruleset" ? firewall.path : `(${firewall.policyName} with fail2ban)`, text: lines.join("\n"), ipset }, fail2ban: jail };
}
