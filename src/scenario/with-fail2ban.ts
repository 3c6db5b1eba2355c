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
  // Measured in the lab (real fail2ban 1.1.1 on Asterisk 22's log, 30 bans): 0.16 to 0.55 s from the request whose log line
  // tips a ban to the ban, median 0.45 s. Its filter and actions threads poll (utils.py wait_for: sleeps of 0.2 s, growing
  // by 0.2 s to 2 s while nothing happens), so the delay depends on their phase, which no run can know: the median stands for it.
  banDelayUs: 450_000,
  set: "f2b-asterisk",
};

/**
 * The sets the jail's two actions fill, as the stock jail names them: the
 * iptables-ipset action's `f2b-<jail>-tcp` and `-udp` ipsets, the nftables
 * action's `addr-set-<jail>-tcp` and `-udp` in its table.
 */
export function jailSets(jail: Fail2banDefence): { readonly protocol: "udp" | "tcp"; readonly set: string }[] {
  const name = jail.set.replace(/^f2b-/, "");
  return (["tcp", "udp"] as const).map((protocol) => ({ protocol, set: jail.banAction === "nftables" ? `addr-set-${name}-${protocol}` : `${jail.set}-${protocol}` }));
}

/** The table fail2ban's nftables action makes (action.d/nftables.conf: table inet f2b-table, chain f2b-chain at input priority -1). */
export const F2B_NFT_TABLE = "f2b-table";
export const F2B_NFT_CHAIN = "f2b-chain";
/** The jail's rules say what they are, in both families: the report and the lab's ban timing read it. */
export const JAIL_RULE_COMMENT = "fail2ban: banned by the asterisk jail";

/**
 * The firewall a scenario runs with fail2ban beside it: its rules with what
 * the stock asterisk jail's two actions (iptables-ipset, one per protocol)
 * start with: a hash:ip set each, `timeout 0` as `ipset -exist create`
 * makes it, and a REJECT rule for the jail's ports (5060, 5061) matching it,
 * first in INPUT, as `iptables -I` puts them (udp's last, so first); and the
 * jail, with the base name of its sets.
 */
export function fail2banFirewall(scenario: Scenario, requested: Fail2banDefence): { firewall: FirewallSpec; jail: Fail2banDefence } {
  const firewall = scenario.firewall;
  const text = firewall.kind === "policy" ? policyRulesetText(firewall.policy, firewall.format, { pbxAddress: scenario.pbx.address }) : firewall.text;
  if (looksLikeNft(text)) return nftJail(scenario, text, requested);
  // A ruleset that has sets of these names already keeps them: the jail fills its own beside them.
  const taken = new Set((firewall.kind === "ruleset" ? (firewall.ipset?.text ?? "") : "").split("\n").map((line) => /^create (\S+)/.exec(line)?.[1]).filter((name) => name !== undefined));
  let jail = requested;
  for (let suffix = 2; jailSets(jail).some(({ set }) => taken.has(set)); suffix++) jail = { ...requested, set: `${requested.set}-${suffix}` };
  // A ruleset runs on the PBX host, as fail2ban does (it reads the PBX's log): a router's policy beside it would be another machine.
  if (firewall.kind === "policy" && firewall.policy.placement === "router") throw new DefenceError(`${scenario.name}: its policy runs on a router; fail2ban runs on the PBX host, and two firewalls on the way are not modelled (compare kernel and fail2ban apart)`);
  const chain = "INPUT";
  // The tcp action starts first (it comes first in jail.conf); the udp action's -I then puts its rule above it.
  const rules = jailSets(jail)
    .reverse()
    .map(({ protocol, set }) => `-A ${chain} -p ${protocol} -m multiport --dports 5060,5061 -m set --match-set ${set} src -m comment --comment "${JAIL_RULE_COMMENT}" -j REJECT --reject-with icmp-port-unreachable`);
  const lines = text.split("\n");
  const filter = lines.findIndex((line) => line.trim() === "*filter");
  if (filter < 0) throw new DefenceError(`${scenario.name}: its ruleset has no filter table for fail2ban's rule`);
  const end = lines.findIndex((line, index) => index > filter && line.trim() === "COMMIT");
  const firstRule = lines.findIndex((line, index) => index > filter && index < end && line.startsWith(`-A ${chain} `));
  lines.splice(firstRule >= 0 ? firstRule : end, 0, ...rules);
  const sets = jailSets(jail).map(({ set }) => `create ${set} hash:ip family inet hashsize 1024 maxelem 65536 timeout 0`);
  const ipset = firewall.kind === "ruleset" && firewall.ipset ? { path: firewall.ipset.path, text: `${firewall.ipset.text.trimEnd()}\n${sets.join("\n")}\n` } : { path: "(fail2ban's sets)", text: `${sets.join("\n")}\n` };
  return { firewall: { kind: "ruleset", path: firewall.kind === "ruleset" ? firewall.path : `(${firewall.policyName} with fail2ban)`, text: lines.join("\n"), ipset }, jail };
}

/**
 * Beside an nftables firewall, fail2ban's nftables action (Debian's default
 * banaction): its own table with a set per protocol and a reject rule each,
 * in a chain at input priority -1, before the admin's filter at 0; each
 * action adds its table, chain and set with `nft add` and appends its rule
 * (tcp's first).
 */
function nftJail(scenario: Scenario, text: string, requested: Fail2banDefence): { firewall: FirewallSpec; jail: Fail2banDefence } {
  if (new RegExp(`^\\s*(?:add\\s+)?table\\s+inet\\s+${F2B_NFT_TABLE}\\b`, "m").test(text)) {
    throw new DefenceError(`${scenario.name}: its nftables ruleset has a table inet ${F2B_NFT_TABLE} already, the one fail2ban's nftables action makes; run it without fail2ban's table, or compare kernel and fail2ban apart`);
  }
  const firewall = scenario.firewall;
  if (firewall.kind === "policy" && firewall.policy.placement === "router") throw new DefenceError(`${scenario.name}: its policy runs on a router; fail2ban runs on the PBX host, and two firewalls on the way are not modelled (compare kernel and fail2ban apart)`);
  const jail: Fail2banDefence = { ...requested, banAction: "nftables" };
  const sets = jailSets(jail);
  const table = [
    `table inet ${F2B_NFT_TABLE} {`,
    ...sets.flatMap(({ set }) => [`\tset ${set} {`, "\t\ttype ipv4_addr", "\t}"]),
    `\tchain ${F2B_NFT_CHAIN} {`,
    "\t\ttype filter hook input priority -1; policy accept;",
    ...sets.map(({ protocol, set }) => `\t\t${protocol} dport { 5060, 5061 } ip saddr @${set} reject comment "${JAIL_RULE_COMMENT}"`),
    "\t}",
    "}",
  ];
  return { firewall: { kind: "ruleset", path: firewall.kind === "ruleset" ? firewall.path : `(${firewall.policyName} with fail2ban)`, text: `${text.trimEnd()}\n${table.join("\n")}\n` }, jail };
}
