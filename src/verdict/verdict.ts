import type { RuleRef } from "../firewall/ruleset.js";

/** Which way a packet travels relative to the PBX. */
export type Direction = "to-pbx" | "from-pbx";

/**
 * One record per packet the firewall judged. Both engines produce exactly this;
 * reports never ask which engine made it.
 */
export interface Verdict {
  /** Position in the run's packet sequence (0-based, in the order judged). */
  readonly packetId: number;
  /** Microseconds since the run started. */
  readonly atUs: number;
  /** Traffic source (scenario `traffic[].name`) the packet belongs to. */
  readonly source: string;
  /** The user agent inside the source (phone 17 of an office, attacker address 3). */
  readonly agent: string;
  readonly direction: Direction;
  /** Addresses and ports as the firewall saw them (after any NAT in front of it). */
  readonly srcAddr: string;
  readonly srcPort: number;
  readonly dstAddr: string;
  readonly dstPort: number;
  readonly protocol: "udp" | "tcp" | "other";
  /** SIP request method, "401"-style status for responses, null when not SIP. */
  readonly sipMethod: string | null;
  readonly verdict: "delivered" | "dropped";
  readonly rule: RuleRef;
  /** Conntrack state the packet had when judged (NEW, ESTABLISHED, ...). */
  readonly ctState: string;
}

/** Something a user agent lived through: it registered, it was refused, it gave up. */
export interface AgentEvent {
  readonly atUs: number;
  readonly source: string;
  readonly agent: string;
  readonly kind: "registered" | "unauthorized" | "forbidden" | "timeout" | "subscribed" | "unregistered" | "password-found" | "extension-found" | "call-reached" | "gave-up";
  /** The SIP account (AOR user part) involved, if any. */
  readonly account?: string;
  readonly detail?: string;
}
