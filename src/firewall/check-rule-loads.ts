import { builtinChains, targetPlaces } from "./rule-vocabulary.js";
import { RulesetError, type IpFamily, type Rule } from "./ruleset.js";

/** libipt_REJECT's names and their short aliases; echo-reply is no longer supported. */
const REJECT_TYPES = new Map([
  ["icmp-net-unreachable", "icmp-net-unreachable"],
  ["net-unreach", "icmp-net-unreachable"],
  ["icmp-host-unreachable", "icmp-host-unreachable"],
  ["host-unreach", "icmp-host-unreachable"],
  ["icmp-proto-unreachable", "icmp-proto-unreachable"],
  ["proto-unreach", "icmp-proto-unreachable"],
  ["icmp-port-unreachable", "icmp-port-unreachable"],
  ["port-unreach", "icmp-port-unreachable"],
  ["icmp-net-prohibited", "icmp-net-prohibited"],
  ["net-prohib", "icmp-net-prohibited"],
  ["icmp-host-prohibited", "icmp-host-prohibited"],
  ["host-prohib", "icmp-host-prohibited"],
  ["icmp-admin-prohibited", "icmp-admin-prohibited"],
  ["admin-prohib", "icmp-admin-prohibited"],
  ["tcp-reset", "tcp-reset"],
  ["tcp-rst", "tcp-reset"],
]);

/** libip6t_REJECT's names and aliases (ip6t_REJECT.h's types). */
const REJECT6_TYPES = new Map([
  ["icmp6-no-route", "icmp6-no-route"],
  ["no-route", "icmp6-no-route"],
  ["icmp6-adm-prohibited", "icmp6-adm-prohibited"],
  ["adm-prohibited", "icmp6-adm-prohibited"],
  ["icmp6-addr-unreachable", "icmp6-addr-unreachable"],
  ["addr-unreach", "icmp6-addr-unreachable"],
  ["icmp6-port-unreachable", "icmp6-port-unreachable"],
  ["port-unreach", "icmp6-port-unreachable"],
  ["icmp6-policy-fail", "icmp6-policy-fail"],
  ["policy-fail", "icmp6-policy-fail"],
  ["icmp6-reject-route", "icmp6-reject-route"],
  ["reject-route", "icmp6-reject-route"],
  ["tcp-reset", "tcp-reset"],
]);

const LOG_LEVELS = new Set(["0", "1", "2", "3", "4", "5", "6", "7", "emerg", "panic", "alert", "crit", "error", "err", "warning", "warn", "notice", "info", "debug"]);

/** IFNAMSIZ is 16 with the terminating NUL. */
const MAX_INTERFACE_NAME = 15;

/** Built-in chains a packet has no output interface in yet (-o refused) or no input interface any more (-i refused). */
const NO_OUT_INTERFACE = new Set(["INPUT", "PREROUTING"]);
const NO_IN_INTERFACE = new Set(["OUTPUT", "POSTROUTING"]);

/**
 * What iptables-restore or the kernel refuse in a rule the parser can read:
 * checked here so `firewall check` says "cannot load" where the real tool does
 * (the corpus in test/firewall/check-vs-kernel.test.ts holds both sides).
 */
export function checkRuleLoads(rule: Rule, family: IpFamily = 4): void {
  const tool = family === 6 ? "ip6tables-restore" : "iptables-restore";
  const refuse = (message: string) => {
    throw new RulesetError("RULESET_REJECTED", `${message} (${tool} refuses this rule)`, rule.line);
  };
  for (const [flag, spec] of [["-i", rule.inInterface], ["-o", rule.outInterface]] as const) {
    if (spec && spec.value.length > MAX_INTERFACE_NAME) refuse(`${flag} ${spec.value}: interface names are at most ${MAX_INTERFACE_NAME} characters`);
  }
  if (rule.outInterface && NO_OUT_INTERFACE.has(rule.chain)) refuse(`-o cannot be used in ${rule.chain}: the packet has no output interface yet`);
  if (rule.inInterface && NO_IN_INTERFACE.has(rule.chain)) refuse(`-i cannot be used in ${rule.chain}: the packet has no input interface`);
  const protocol = rule.protocol?.value;
  if (protocol !== undefined && /^\d+$/.test(protocol) && Number(protocol) > 255) refuse(`-p ${protocol}: protocol numbers go up to 255`);
  // ip_tables.c icmp_match: checkentry ties the match to the protocol ("RULE_APPEND failed (Invalid argument)").
  if (family === 6 && rule.matches.some((match) => match.module === "icmp")) refuse("-m icmp is IPv4's: ip6tables reads ICMPv6 with -p ipv6-icmp -m icmp6");
  if (rule.matches.some((match) => match.module === "icmp") && (!(protocol === "icmp" || protocol === "1") || rule.protocol?.negated)) refuse("-m icmp needs -p icmp in the same rule");
  // Each family's own extensions: iptables has no icmp6, hl or rt, ip6tables no ttl ("Couldn't load match").
  const foreignMatches: Record<string, string> = family === 6 ? { ttl: "-m ttl is iptables': ip6tables reads the hop limit with -m hl" } : { icmp6: "-m icmp6 is ip6tables': iptables reads ICMP with -p icmp -m icmp", hl: "-m hl is ip6tables': iptables reads the TTL with -m ttl", rt: "-m rt is ip6tables': IPv4 has no routing header" };
  for (const match of rule.matches) if (foreignMatches[match.module]) refuse(`${foreignMatches[match.module]} (Couldn't load match \`${match.module}')`);
  // xt_rpfilter's table and hook mask: raw and mangle, PREROUTING ("RULE_APPEND failed (Invalid argument)").
  if (rule.matches.some((match) => match.module === "rpfilter") && (!["raw", "mangle"].includes(rule.table) || ((builtinChains[rule.table]?.includes(rule.chain) ?? false) && rule.chain !== "PREROUTING"))) {
    refuse(`-m rpfilter only works in PREROUTING of table raw or mangle, not ${rule.table} ${rule.chain}`);
  }
  // xt_check_match: a match registered for one protocol loads only in a rule of that protocol, not negated
  // ("RULE_APPEND failed (Invalid argument)"): tcpmss always, ecn when it reads the TCP header's bits (ecn_mt_check4/6).
  const tcpOnly = rule.matches.find((match) => match.module === "tcpmss" || (match.module === "ecn" && match.options.some((option) => option.name.startsWith("ecn-tcp-"))));
  if (tcpOnly && !isProtocol(rule, "tcp")) refuse(`-m ${tcpOnly.module}${tcpOnly.module === "ecn" ? " --ecn-tcp-ece/--ecn-tcp-cwr" : ""} needs -p tcp in the same rule`);
  // policy_mt_check: an input policy is not valid where packets leave, an output policy not where they arrive (a user
  // chain's hooks are not known when iptables-nft adds its rule, so it loads there).
  const direction = rule.matches.find((match) => match.module === "policy")?.options.find((option) => option.name === "dir")?.args[0];
  if (direction === "in" && (rule.chain === "OUTPUT" || rule.chain === "POSTROUTING")) refuse(`-m policy --dir in is not valid in ${rule.chain}: the packet is leaving (use --dir out)`);
  if (direction === "out" && (rule.chain === "INPUT" || rule.chain === "PREROUTING")) refuse(`-m policy --dir out is not valid in ${rule.chain}: the packet is arriving (use --dir in)`);
  const target = rule.target;
  if (!target) return;
  const option = (name: string) => target.options.find((candidate) => candidate.name === name)?.args[0];
  checkTargetPlace(rule, refuse);
  if (target.kind === "REJECT") {
    const withText = option("reject-with");
    const types = family === 6 ? REJECT6_TYPES : REJECT_TYPES;
    const type = withText === undefined ? "icmp-port-unreachable" : types.get(withText);
    if (type === undefined) refuse(`--reject-with ${withText}: unknown reject type; use one of ${[...new Set(types.values())].join(", ")}`);
    // ipt_REJECT's reject_tg_check: "TCP_RESET invalid for non-tcp".
    if (type === "tcp-reset" && !isProtocol(rule, "tcp")) refuse("--reject-with tcp-reset needs -p tcp in the same rule");
  }
  if (target.kind === "LOG") {
    const level = option("log-level");
    if (level !== undefined && !LOG_LEVELS.has(level)) refuse(`--log-level ${level}: a syslog level 0-7 or its name (emerg, alert, crit, error, warning, notice, info, debug)`);
  }
  if (target.kind === "NFLOG") {
    const group = option("nflog-group");
    if (group !== undefined && !(/^\d+$/.test(group) && Number(group) <= 65535)) refuse(`--nflog-group ${group}: a group number 0-65535`);
  }
}

/** Whether the rule's -p is `name`, not negated (the parser has already turned `-p 6` into `tcp`). */
function isProtocol(rule: Rule, name: "tcp" | "udp"): boolean {
  return rule.protocol?.value === name && !rule.protocol.negated;
}

/** Ports in a NAT target (`1.2.3.4:5080`, `--to-ports 5060`) need a protocol that has them (nf_nat's checkentry). */
const PORT_PROTOCOLS = new Set(["tcp", "udp", "sctp", "dccp", "udplite", "6", "17", "132", "33", "136"]);

function checkTargetPlace(rule: Rule, refuse: (message: string) => never): void {
  const target = rule.target!;
  const builtin = builtinChains[rule.table]?.includes(rule.chain) ?? false;
  if (target.kind === "DROP" && rule.table === "nat") refuse(`-j DROP in table nat: iptables says "The nat table is not intended for filtering, the use of DROP is therefore inhibited"; drop in the filter table`);
  const place = targetPlaces[target.kind];
  if (!place) return;
  if (place.table && place.table !== rule.table) refuse(`-j ${target.kind} is only valid in table ${place.table}, not ${rule.table}`);
  // A user chain's hooks are those of the chains that reach it; the interpreter checks those once all chains are known.
  if (place.hooks && builtin && !place.hooks.includes(rule.chain)) refuse(`-j ${target.kind} is only valid in ${place.hooks.join(", ")}, not ${rule.chain}`);
  const option = (name: string) => target.options.find((candidate) => candidate.name === name);
  const protocol = rule.protocol && !rule.protocol.negated ? rule.protocol.value : undefined;
  const hasPorts =
    ((target.kind === "DNAT" || target.kind === "SNAT") && /:\d/.test((option(target.kind === "DNAT" ? "to-destination" : "to-source")?.args[0] ?? "").replace(/^\[[^\]]*\]/, ""))) ||
    ((target.kind === "REDIRECT" || target.kind === "MASQUERADE") && option("to-ports") !== undefined);
  if (hasPorts && (protocol === undefined || !PORT_PROTOCOLS.has(protocol))) refuse(`-j ${target.kind} with ports needs -p tcp, udp, sctp or dccp in the same rule (iptables: "Need TCP, UDP, SCTP or DCCP with port specification")`);
  if ((target.kind === "DNAT" && !option("to-destination")) || (target.kind === "SNAT" && !option("to-source"))) refuse(`-j ${target.kind} needs --to-${target.kind === "DNAT" ? "destination" : "source"}`);
  if (target.kind === "CT" && option("helper") && protocol !== "udp" && protocol !== "tcp" && protocol !== "17" && protocol !== "6") refuse(`-j CT --helper needs -p udp or -p tcp in the same rule (the kernel: "No such file or directory")`);
  if (target.kind === "TCPMSS" && option("clamp-mss-to-pmtu") && !["FORWARD", "OUTPUT", "POSTROUTING"].includes(rule.chain) && builtin) refuse("-j TCPMSS --clamp-mss-to-pmtu is only valid in FORWARD, OUTPUT and POSTROUTING");
}
