import { looksLikeNft } from "../firewall/nft/parse-nft.js";
import { policyRulesetText } from "../firewall/policy-ruleset.js";
import type { Fail2banDefence, FirewallSpec, Scenario } from "./scenario.js";

/** A defence that cannot stand where it was asked to (beside nftables, on a router). */
export class DefenceError extends Error {
  readonly code = "COMPARE_INPUT";
}

/** jail.conf's [asterisk] and [DEFAULT] as fail2ban 1.x ships them. */
export const stockAsteriskJail: Fail2banDefence = {
  maxretry: 10,
  findtimeSeconds: 600,
  bantimeSeconds: 600,
  // fail2ban's threads wake at most once a second (the filter's poll, the actions' wait): an order of magnitude, not yet measured in the lab.
  banDelayUs: 1_000_000,
  set: "f2b-asterisk",
};

/**
 * The firewall a scenario runs with fail2ban beside it: its rules with the
 * set fail2ban's action creates and its REJECT rule for the jail's ports
 * (5060, 5061, UDP and TCP) first in INPUT, as `iptables -I` puts it; and
 * the jail, with the set it fills.
 */
export function fail2banFirewall(scenario: Scenario, requested: Fail2banDefence): { firewall: FirewallSpec; jail: Fail2banDefence } {
  const firewall = scenario.firewall;
  const text = firewall.kind === "policy" ? policyRulesetText(firewall.policy, firewall.format, { pbxAddress: scenario.pbx.address }) : firewall.text;
  if (looksLikeNft(text)) throw new DefenceError(`${scenario.name}: its firewall is nftables; fail2ban beside it needs fail2ban's nftables action, which slamlab does not model yet (compare kernel and fail2ban apart, or write the policy as iptables)`);
  // A ruleset that has fail2ban's set already (the fail2ban-ipset scenario) keeps it: the jail fills one of its own beside it.
  const taken = new Set((firewall.kind === "ruleset" ? (firewall.ipset?.text ?? "") : "").split("\n").map((line) => /^create (\S+)/.exec(line)?.[1]).filter((name) => name !== undefined));
  let setName = requested.set;
  for (let suffix = 2; taken.has(setName); suffix++) setName = `${requested.set}-${suffix}`;
  const jail = { ...requested, set: setName };
  // A ruleset runs on the PBX host, as fail2ban does (it reads the PBX's log): a router's policy beside it would be another machine.
  if (firewall.kind === "policy" && firewall.policy.placement === "router") throw new DefenceError(`${scenario.name}: its policy runs on a router; fail2ban runs on the PBX host, and two firewalls on the way are not modelled (compare kernel and fail2ban apart)`);
  const chain = "INPUT";
  const rules = ["udp", "tcp"].map((protocol) => `-A ${chain} -p ${protocol} -m multiport --dports 5060,5061 -m set --match-set ${jail.set} src -m comment --comment "fail2ban: banned by the asterisk jail" -j REJECT --reject-with icmp-port-unreachable`);
  const lines = text.split("\n");
  const filter = lines.findIndex((line) => line.trim() === "*filter");
  if (filter < 0) throw new DefenceError(`${scenario.name}: its ruleset has no filter table for fail2ban's rule`);
  const end = lines.findIndex((line, index) => index > filter && line.trim() === "COMMIT");
  const firstRule = lines.findIndex((line, index) => index > filter && index < end && line.startsWith(`-A ${chain} `));
  lines.splice(firstRule >= 0 ? firstRule : end, 0, ...rules);
  const set = `create ${jail.set} hash:ip family inet hashsize 1024 maxelem 65536 timeout ${jail.bantimeSeconds}`;
  const ipset = firewall.kind === "ruleset" && firewall.ipset ? { path: firewall.ipset.path, text: `${firewall.ipset.text.trimEnd()}\n${set}\n` } : { path: "(fail2ban's set)", text: `${set}\n` };
  return { firewall: { kind: "ruleset", path: firewall.kind === "ruleset" ? firewall.path : `(${firewall.policyName} with fail2ban)`, text: lines.join("\n"), ipset }, jail };
}
