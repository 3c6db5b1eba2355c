/**
 * An nftables ruleset as typed values: what `parseNftRuleset` makes of
 * `nft list ruleset` output or `nft -f` input. Rules stay token lists here;
 * the model engine compiles their expressions and statements.
 */

export type NftFamily = "ip" | "ip6" | "inet" | "arp" | "bridge" | "netdev";

/** One token of a rule, with the line it came from. */
export interface NftToken {
  readonly text: string;
  /** A double-quoted string (its text without the quotes). */
  readonly quoted: boolean;
  readonly line: number;
}

export interface NftRule {
  /** 1-based position in its chain. */
  readonly index: number;
  readonly line: number;
  readonly text: string;
  readonly tokens: readonly NftToken[];
}

export interface NftBaseChain {
  readonly type: "filter" | "nat" | "route";
  readonly hook: "prerouting" | "input" | "forward" | "output" | "postrouting" | "ingress" | "egress";
  readonly priority: number;
  readonly policy: "accept" | "drop";
  /** An ingress chain's devices (`device eth0`, `devices = { eth0, eth1 }`): it sees the packets they receive. */
  readonly devices?: readonly string[];
}

export interface NftChain {
  readonly name: string;
  readonly line: number;
  /** Set for a base chain (one that a hook calls); null for a regular chain, reached by jump or goto. */
  readonly base: NftBaseChain | null;
  readonly rules: NftRule[];
}

export interface NftSet {
  readonly name: string;
  readonly line: number;
  /** Concatenated types as `type` names them (ipv4_addr, inet_service, ...). */
  readonly type: readonly string[];
  /** A map's data type (`verdict`, `mark`, ...), what follows the key type's colon; null for a set. */
  readonly data: string | null;
  readonly flags: ReadonlySet<string>;
  /** Default element timeout in ms; 0 for none. */
  readonly timeoutMs: number;
  /** `gc-interval`: how often the set's gc worker runs, in ms; absent, every second (HZ). */
  readonly gcIntervalMs?: number;
  /** 0: no limit given (the kernel's default for a dynamic set is 65535). */
  readonly size: number;
  /** Elements as written, each its tokens (a map's with `:` and its data after the key). */
  readonly elements: readonly (readonly NftToken[])[];
}

export interface NftTable {
  readonly family: NftFamily;
  readonly name: string;
  readonly line: number;
  readonly chains: Map<string, NftChain>;
  readonly sets: Map<string, NftSet>;
  /** Named counter objects (`counter NAME { ... }`), by name, each with its line: `counter name NAME` counts into one. */
  readonly counters: Map<string, number>;
  /** Conntrack helper objects (`ct helper NAME { type "sip" protocol udp; }`), by name: `ct helper set "NAME"` assigns one. */
  readonly ctHelpers: Map<string, NftCtHelper>;
  /** Named quota and limit objects (`quota NAME { over 25 mbytes }`, `limit NAME { rate 10/second }`): `quota name` and `limit name` share one. */
  readonly statefulObjects: Map<string, NftStatefulObject>;
}

export interface NftStatefulObject {
  readonly kind: "quota" | "limit";
  readonly name: string;
  readonly line: number;
  /** The body's words, as a rule's `quota ...` or `limit ...` would hold them after the keyword. */
  readonly tokens: readonly NftToken[];
}

export interface NftCtHelper {
  readonly name: string;
  readonly line: number;
  /** The kernel helper's name (`type "sip"`). */
  readonly type: string;
  readonly protocol: "tcp" | "udp";
  /** `l3proto`: ip, ip6 or inet; absent, the table's family's. */
  readonly l3proto: string | null;
}

export interface NftRuleset {
  readonly tables: NftTable[];
}

/** Chain priorities by name, for the ip, ip6 and inet families (nft(8), "CHAIN PRIORITIES"). */
export const NAMED_PRIORITIES: Readonly<Record<string, number>> = { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 };

/** How verdicts name an nft chain: `inet filter input`. */
export function nftChainLabel(table: Pick<NftTable, "family" | "name">, chain: string): string {
  return `${table.family} ${table.name} ${chain}`;
}

/** How a verdict names the decision for a packet no base chain met: accepted. */
export const NO_BASE_CHAIN = "(no base chain)";

/**
 * The elements of a set or map body (the tokens between its braces), each
 * its tokens, split at unquoted commas. In a map, `KEY:DATA` written
 * together is split as nft's scanner does (`198.18.1.1:drop` is
 * `198.18.1.1 : drop`); a set's words keep their colons.
 */
export function splitElements(tokens: readonly NftToken[], splitColons: boolean): NftToken[][] {
  const elements: NftToken[][] = [[]];
  for (const token of tokens) {
    const element = elements[elements.length - 1]!;
    if (token.text === "," && !token.quoted) elements.push([]);
    else if (splitColons && !token.quoted && token.text !== ":" && token.text.includes(":")) {
      const colon = token.text.indexOf(":");
      for (const part of [token.text.slice(0, colon), ":", token.text.slice(colon + 1)]) if (part) element.push({ ...token, text: part });
    } else element.push(token);
  }
  return elements.filter((element) => element.length > 0);
}
