/**
 * The iptables words the parser knows: each match module's and target's
 * options with how many arguments they take. The parser needs arities to
 * split a rule into options (iptables learns them from each extension's
 * option table); anything not listed here is reported by name instead of
 * being guessed at.
 */

/** Option name (without dashes) -> number of arguments. */
export type OptionArity = Readonly<Record<string, number>>;

export const matchVocabulary: Readonly<Record<string, OptionArity>> = {
  udp: { sport: 1, dport: 1 },
  tcp: { sport: 1, dport: 1, "tcp-flags": 2, syn: 0, "tcp-option": 1 },
  tcpmss: { mss: 1 },
  ecn: { "ecn-tcp-cwr": 0, "ecn-tcp-ece": 0, "ecn-ip-ect": 1 },
  statistic: { mode: 1, probability: 1, every: 1, packet: 1 },
  quota: { quota: 1 },
  policy: { dir: 1, pol: 1, strict: 0, reqid: 1, spi: 1, proto: 1, mode: 1, "tunnel-src": 1, "tunnel-dst": 1, next: 0 },
  icmp: { "icmp-type": 1 },
  icmp6: { "icmpv6-type": 1 },
  ttl: { "ttl-eq": 1, "ttl-lt": 1, "ttl-gt": 1 },
  hl: { "hl-eq": 1, "hl-lt": 1, "hl-gt": 1 },
  dscp: { dscp: 1, "dscp-class": 1 },
  tos: { tos: 1 },
  rpfilter: { loose: 0, validmark: 0, "accept-local": 0, invert: 0 },
  rt: { "rt-type": 1, "rt-segsleft": 1, "rt-len": 1, "rt-0-res": 0, "rt-0-addrs": 1, "rt-0-not-strict": 0 },
  multiport: { ports: 1, dports: 1, sports: 1 },
  string: { algo: 1, from: 1, to: 1, string: 1, "hex-string": 1, icase: 0 },
  u32: { u32: 1 },
  recent: { name: 1, set: 0, rcheck: 0, update: 0, remove: 0, seconds: 1, reap: 0, hitcount: 1, rttl: 0, rsource: 0, rdest: 0, mask: 1 },
  hashlimit: {
    "hashlimit-upto": 1,
    "hashlimit-above": 1,
    "hashlimit-burst": 1,
    "hashlimit-mode": 1,
    "hashlimit-srcmask": 1,
    "hashlimit-dstmask": 1,
    "hashlimit-name": 1,
    "hashlimit-htable-size": 1,
    "hashlimit-htable-max": 1,
    "hashlimit-htable-expire": 1,
    "hashlimit-htable-gcinterval": 1,
    "hashlimit-rate-match": 0,
    "hashlimit-rate-interval": 1,
  },
  limit: { limit: 1, "limit-burst": 1 },
  conntrack: {
    ctstate: 1,
    ctproto: 1,
    ctorigsrc: 1,
    ctorigdst: 1,
    ctreplsrc: 1,
    ctrepldst: 1,
    ctorigsrcport: 1,
    ctorigdstport: 1,
    ctreplsrcport: 1,
    ctrepldstport: 1,
    ctstatus: 1,
    ctexpire: 1,
    ctdir: 1,
  },
  state: { state: 1 },
  comment: { comment: 1 },
  iprange: { "src-range": 1, "dst-range": 1 },
  length: { length: 1 },
  pkttype: { "pkt-type": 1 },
  addrtype: { "src-type": 1, "dst-type": 1, "limit-iface-in": 0, "limit-iface-out": 0 },
  mark: { mark: 1 },
  connmark: { mark: 1 },
  helper: { helper: 1 },
  connlimit: { "connlimit-above": 1, "connlimit-upto": 1, "connlimit-mask": 1, "connlimit-saddr": 0, "connlimit-daddr": 0 },
  time: { datestart: 1, datestop: 1, timestart: 1, timestop: 1, weekdays: 1, monthdays: 1, kerneltz: 0, localtz: 0, utc: 0, contiguous: 0 },
  set: {
    "match-set": 2,
    "return-nomatch": 0,
    "update-counters": 0,
    "update-subcounters": 0,
    "packets-eq": 1,
    "packets-lt": 1,
    "packets-gt": 1,
    "bytes-eq": 1,
    "bytes-lt": 1,
    "bytes-gt": 1,
  },
};

/** Long spellings iptables accepts for the same option. */
export const optionAliases: Readonly<Record<string, string>> = {
  "source-port": "sport",
  "destination-port": "dport",
  "source-ports": "sports",
  "destination-ports": "dports",
  hashlimit: "hashlimit-upto",
};

export const targetVocabulary: Readonly<Record<string, OptionArity>> = {
  ACCEPT: {},
  DROP: {},
  RETURN: {},
  REJECT: { "reject-with": 1 },
  LOG: {
    "log-level": 1,
    "log-prefix": 1,
    "log-tcp-sequence": 0,
    "log-tcp-options": 0,
    "log-ip-options": 0,
    "log-uid": 0,
    "log-macdecode": 0,
  },
  NFLOG: { "nflog-group": 1, "nflog-prefix": 1, "nflog-range": 1, "nflog-size": 1, "nflog-threshold": 1 },
  SET: { "add-set": 2, "del-set": 2, "map-set": 2, exist: 0, timeout: 1, "map-mark": 0, "map-prio": 0, "map-queue": 0 },
  // raw
  CT: { notrack: 0, helper: 1, zone: 1, "zone-orig": 1, "zone-reply": 1, ctevents: 1, expevents: 1, timeout: 1 },
  NOTRACK: {},
  // mangle (MARK and CONNMARK load in every table)
  MARK: { "set-xmark": 1, "set-mark": 1, "and-mark": 1, "or-mark": 1, "xor-mark": 1 },
  CONNMARK: { "set-xmark": 1, "set-mark": 1, "and-mark": 1, "or-mark": 1, "xor-mark": 1, "save-mark": 0, "restore-mark": 0, nfmask: 1, ctmask: 1, mask: 1 },
  DSCP: { "set-dscp": 1, "set-dscp-class": 1 },
  TTL: { "ttl-set": 1, "ttl-dec": 1, "ttl-inc": 1 },
  TCPMSS: { "set-mss": 1, "clamp-mss-to-pmtu": 0 },
  // nat
  DNAT: { "to-destination": 1, random: 0, persistent: 0 },
  SNAT: { "to-source": 1, random: 0, "random-fully": 0, persistent: 0 },
  MASQUERADE: { "to-ports": 1, random: 0, "random-fully": 0 },
  REDIRECT: { "to-ports": 1, random: 0 },
};

/**
 * Target extensions of Linux's x_tables that the model does not interpret: a rule jumping to one of these names (not a chain
 * declared as such) is refused as a target not modelled, by its name,
 * rather than taken for a jump to a missing chain.
 */
export const kernelTargetsNotModelled: ReadonlySet<string> = new Set([
  "AUDIT",
  "CHECKSUM",
  "CLASSIFY",
  "CLUSTERIP",
  "CONNSECMARK",
  "DNPT",
  "ECN",
  "HL",
  "HMARK",
  "IDLETIMER",
  "LED",
  "NETMAP",
  "NFQUEUE",
  "RATEEST",
  "SECMARK",
  "SNPT",
  "SYNPROXY",
  "TCPOPTSTRIP",
  "TEE",
  "TOS",
  "TPROXY",
  "TRACE",
  "ULOG",
]);

/** xtables-addons' targets: neither the model nor the lab's kernel has them (iptables-restore: "Chain 'TARPIT' does not exist"). */
export const addonTargets: ReadonlySet<string> = new Set([
  "TARPIT",
  "DELUDE",
  "CHAOS",
  "ECHO",
  "IPMARK",
  "LOGMARK",
  "STEAL",
  "SYSRQ",
]);

/**
 * Targets the kernel registers for one table only (xt_target.table), and the
 * built-in chains (hooks) it accepts them in; checked where iptables-restore
 * would fail with "RULE_APPEND failed (Invalid argument)".
 */
export const targetPlaces: Readonly<Record<string, { readonly table?: string; readonly hooks?: readonly string[] }>> = {
  REJECT: { table: "filter", hooks: ["INPUT", "FORWARD", "OUTPUT"] },
  CT: { table: "raw" },
  NOTRACK: { table: "raw" },
  DSCP: { table: "mangle" },
  TTL: { table: "mangle" },
  TCPMSS: { table: "mangle" },
  DNAT: { table: "nat", hooks: ["PREROUTING", "OUTPUT"] },
  REDIRECT: { table: "nat", hooks: ["PREROUTING", "OUTPUT"] },
  SNAT: { table: "nat", hooks: ["POSTROUTING", "INPUT"] },
  MASQUERADE: { table: "nat", hooks: ["POSTROUTING"] },
};

/** Built-in chains of each table, as the kernel registers them. */
export const builtinChains: Readonly<Record<string, readonly string[]>> = {
  filter: ["INPUT", "FORWARD", "OUTPUT"],
  nat: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
  mangle: ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
  raw: ["PREROUTING", "OUTPUT"],
  security: ["INPUT", "FORWARD", "OUTPUT"],
};

/** Protocol numbers iptables-save may print instead of names. */
export const protocolNames: Readonly<Record<string, string>> = { "1": "icmp", "6": "tcp", "17": "udp", "0": "all" };
