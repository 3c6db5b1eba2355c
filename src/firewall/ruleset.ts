/**
 * A ruleset as typed values: what `parseRuleset` makes of iptables-save /
 * iptables-restore text, once. The model engine compiles these; nothing after
 * the parser looks at rule text again (except to quote it in reports).
 */

/** One option of a match or target, e.g. `--seconds 60` or `! --rcheck`. */
export interface RuleOption {
  readonly name: string; // without dashes: "seconds", "rcheck", "dport"
  readonly args: readonly string[];
  readonly negated: boolean;
}

/** `-m NAME --opt ...` (and the implicit protocol match `-p udp --dport`). */
export interface MatchSpec {
  readonly module: string;
  readonly options: readonly RuleOption[];
}

export type BuiltinTarget =
  | "ACCEPT"
  | "DROP"
  | "REJECT"
  | "RETURN"
  | "LOG"
  | "NFLOG"
  | "SET"
  | "CT"
  | "NOTRACK"
  | "MARK"
  | "CONNMARK"
  | "DSCP"
  | "TTL"
  | "TCPMSS"
  | "DNAT"
  | "SNAT"
  | "MASQUERADE"
  | "REDIRECT";

export interface TargetSpec {
  /** Built-in target, or "jump"/"goto" to a user chain. */
  readonly kind: BuiltinTarget | "jump" | "goto";
  readonly chain?: string;
  readonly options: readonly RuleOption[];
}

export interface Negatable<T> {
  readonly value: T;
  readonly negated: boolean;
}

export interface Rule {
  readonly table: string;
  readonly chain: string;
  /** 1-based position in its chain, as `iptables -L --line-numbers` shows it. */
  readonly index: number;
  /** 1-based line in the ruleset text, for error messages. */
  readonly line: number;
  readonly text: string;
  readonly protocol?: Negatable<string>;
  readonly source?: Negatable<string>;
  readonly destination?: Negatable<string>;
  readonly inInterface?: Negatable<string>;
  readonly outInterface?: Negatable<string>;
  /** `-f` / `! -f`: true matches only non-first fragments. */
  readonly fragment?: Negatable<true>;
  readonly matches: readonly MatchSpec[];
  /** No target (`-j` absent) means the rule only counts. */
  readonly target: TargetSpec | null;
  /** From `-m comment --comment`, if any. */
  readonly comment?: string;
}

export interface Chain {
  readonly name: string;
  /** Built-in chains have a policy; user chains have null. */
  readonly policy: "ACCEPT" | "DROP" | null;
  readonly rules: readonly Rule[];
}

export interface Table {
  readonly name: string;
  readonly chains: ReadonlyMap<string, Chain>;
}

/** The filter table with nothing loaded: the built-in chains' ACCEPT policies (a host's ip6tables when it never loaded any). */
export const NOTHING_LOADED = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";

/** 4 for iptables, 6 for ip6tables: the same tables and chains, for the other family's packets. */
export type IpFamily = 4 | 6;

export interface Ruleset {
  readonly tables: ReadonlyMap<string, Table>;
  /** ip6tables' rules (6); absent, iptables' (IPv4). */
  readonly family?: IpFamily;
  /** The text it came from, kept for reports. */
  readonly text: string;
  /** The file it came from, for errors found after parsing. */
  readonly source?: string;
}

/** Where a verdict came from: `INPUT:3` plus the rule's comment, or the chain policy. */
export interface RuleRef {
  /** The chain, prefixed with its table outside filter (see qualifiedChain). */
  readonly chain: string;
  /** 1-based rule index; 0 means the chain's policy decided. */
  readonly index: number;
  readonly comment?: string;
  readonly target: string;
  /** 6: an ip6tables rule (or policy), which judged an IPv6 packet; absent, iptables'. */
  readonly family?: 6;
}

/** How verdicts name a chain: filter's by name (`INPUT`), the other tables' with the table (`raw:PREROUTING`). */
export function qualifiedChain(table: string, chain: string): string {
  return table === "filter" ? chain : `${table}:${chain}`;
}

/** The table and chain a qualified chain name stands for. */
export function splitQualifiedChain(qualified: string): { table: string; chain: string } {
  const colon = qualified.indexOf(":");
  return colon < 0 ? { table: "filter", chain: qualified } : { table: qualified.slice(0, colon), chain: qualified.slice(colon + 1) };
}

export class RulesetError extends Error {
  readonly code: string;
  readonly line: number | undefined;
  constructor(code: string, message: string, line?: number) {
    super(line === undefined ? message : `line ${line}: ${message}`);
    this.code = code;
    this.line = line;
  }
}
