import type { Packet } from "../../../net/packet.js";
import type { IpFamily, RuleOption } from "../../../firewall/ruleset.js";
import type { KernelSettings } from "../kernel-settings.js";

/** Conntrack states as `-m conntrack --ctstate` / `-m state --state` name them. */
export type CtState = "NEW" | "ESTABLISHED" | "RELATED" | "INVALID" | "UNTRACKED";

/** What netfilter knows about a packet beyond its bytes when the filter table runs. */
export interface PacketContext {
  /** The kernel's jiffies counter when the packet is judged. */
  readonly jiffies: number;
  /**
   * ktime in nanoseconds when the packet is judged, for what nftables counts in
   * nanoseconds (its limit); absent, it is taken from the jiffies.
   */
  readonly clockNs?: number;
  readonly ctState: CtState;
  /** ORIGINAL (false) or REPLY (true) direction of its conntrack entry. */
  readonly ctReply: boolean;
  /** conntrack status bits we model: SEEN_REPLY, ASSURED. */
  readonly ctSeenReply: boolean;
  readonly ctAssured: boolean;
  /** Output interface (-o), empty on INPUT. */
  readonly outInterface: string;
  /** The hook judging the packet; xt_recent restores the pre-forwarding TTL on FORWARD. */
  readonly hook?: Hook;
  /** What the tables set on the packet as it goes through them (skb->mark, CT's template); absent is none of it. */
  readonly skb?: SkbState;
  /**
   * The packet's conntrack entry (ct->mark and what CT set), absent when the
   * caller judges without one (its mark is then 0), null when the packet has
   * none (untracked, or before conntrack ran in the raw table).
   */
  readonly connection?: ConnectionMarks | null;
}

/** Netfilter's hooks, as the iptables chains of the same names run at them. */
export type Hook = "PREROUTING" | "INPUT" | "FORWARD" | "OUTPUT" | "POSTROUTING";

export interface SkbState {
  /** skb->mark: MARK and CONNMARK --restore-mark set it. */
  mark: number;
  /** CT --notrack / NOTRACK in raw: conntrack leaves the packet untracked. */
  notrack: boolean;
  /** CT --helper in raw: the helper a new connection gets. */
  helper: string;
}

export interface ConnectionMarks {
  mark: number;
  /** IPS_SRC_NAT / IPS_DST_NAT: whether NAT changed the connection's source or destination (-m conntrack --ctstate SNAT,DNAT). */
  readonly natted?: (end: "src" | "dst") => boolean;
  /** Whether nf_conntrack_find would find it: confirmed (its first packet was accepted) and not past its timeout (jiffies). */
  readonly confirmed?: boolean;
  readonly timeout?: number;
  /** The conntrack helper the connection has (CT --helper, nft's `ct helper set`), by its kernel name; "" for none. */
  helper?: string;
}

export type CompiledMatch = (packet: Packet, context: PacketContext) => boolean;

/**
 * State that outlives a single rule: xt_recent tables are shared by every rule
 * naming them, hashlimit tables by name, and both survive across packets.
 */
export interface MatchState {
  readonly settings: KernelSettings;
  /** Per-module shared tables, keyed by the module's own naming (e.g. recent list name). */
  readonly tables: Map<string, unknown>;
  /** The firewall host's own addresses besides 127/8 (addrtype LOCAL): the PBX's when the firewall runs on it. */
  readonly localAddresses?: readonly number[];
  /** The wall clock (ms since the epoch) at the run's virtual time 0, for -m time; absent, the real time the rules were compiled. */
  readonly wallClockStartMs?: number;
}

/**
 * A match sets `dropped` and fails to drop the packet outright (the kernel's
 * par->hotdrop): ipt_do_table stops walking and returns NF_DROP, whatever the
 * rule's target and the rest of the table, and counts no rule.
 */
export interface Hotdrop {
  dropped: boolean;
  /** Why, in the kernel's terms, for the verdict's rule comment. */
  reason: string;
}

/** The hotdrop signal of a firewall's matches, shared through its MatchState. */
export function hotdropOf(state: MatchState): Hotdrop {
  let signal = state.tables.get(HOTDROP_KEY) as Hotdrop | undefined;
  if (!signal) {
    signal = { dropped: false, reason: "" };
    state.tables.set(HOTDROP_KEY, signal);
  }
  return signal;
}
const HOTDROP_KEY = "xt:hotdrop";

/** Compiles one `-m MODULE` with its options into a predicate; throws RulesetError for what it cannot model. */
export type MatchFactory = (options: readonly RuleOption[], state: MatchState, where: MatchPlace) => CompiledMatch;

/** Where a match stands: its rule's line and text, and whether the rule is ip6tables' (family 6). */
export interface MatchPlace {
  readonly line: number;
  readonly text: string;
  readonly family?: IpFamily;
}

/** A packet context its owner refills for each packet. */
export type RefilledContext = { -readonly [K in keyof PacketContext]: PacketContext[K] };

/**
 * A context to refill for each packet rather than make, its fields in the
 * order of the route's own: every caller's context then has one shape, and
 * the matches' reads of it stay monomorphic. With `skb`, targets can mark the
 * packet (the route's own); without, MARK and CONNMARK leave it as it is.
 */
export function refilledContext(skb?: SkbState): RefilledContext {
  if (skb) return { jiffies: 0, clockNs: 0, ctState: "NEW", ctReply: false, ctSeenReply: false, ctAssured: false, outInterface: "", hook: "INPUT", skb, connection: null };
  return { jiffies: 0, clockNs: 0, ctState: "NEW", ctReply: false, ctSeenReply: false, ctAssured: false, outInterface: "", hook: "INPUT", connection: null };
}

/** The context of a packet conntrack calls NEW, as a hook sees it before any reply. */
export function newPacketContext(jiffies: number, hook: Hook = "INPUT"): PacketContext {
  return { jiffies, ctState: "NEW", ctReply: false, ctSeenReply: false, ctAssured: false, outInterface: hook === "INPUT" ? "" : "eth0", hook };
}
