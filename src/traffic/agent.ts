import type { AgentEvent } from "../verdict/verdict.js";

/**
 * Traffic sources are user agents in time: they send UDP datagrams and react
 * to what comes back (answer a challenge, refresh, retry). They never see an
 * engine: the model engine drives them on a virtual clock, the docker engine
 * in real time over dgram sockets, through this one interface.
 */

/** A UDP datagram, or a write to a TCP connection, as the sending host's socket sees it (addresses as dotted quads). */
export interface Datagram {
  readonly src: string;
  readonly sport: number;
  readonly dst: string;
  readonly dport: number;
  readonly payload: Uint8Array;
  /**
   * For replayed packets: the whole original IPv4 datagram, so TTL, ID, options
   * and fragmentation are kept; engines map only addresses and checksums.
   */
  readonly ipDatagram?: Uint8Array;
  /**
   * "tcp": the payload is written to the sender's TCP connection to the
   * destination (made if there is none) and arrives as whole SIP messages.
   */
  readonly transport?: "tcp" | "tls";
  /** TCP: the lengths of the segments the write goes out in (the last takes the rest), to split a message across segments. */
  readonly segments?: readonly number[];
}

export interface AgentContext {
  /** Microseconds since the run started. */
  now(): number;
  /** Sends now. `agent` names the user agent inside the source (e.g. "phone-017"). */
  send(agent: string, datagram: Datagram): void;
  /**
   * Sends from the PBX's side towards this agent (a replayed capture's own PBX
   * packets); judged on the way out like the lab PBX's replies.
   */
  sendFromPbx?(agent: string, datagram: Datagram): void;
  /** Runs `action` at an absolute time (start + offset), never after a relative sleep. */
  at(atUs: number, action: () => void): void;
  /** Seeded, deterministic [0, 1). */
  random(): number;
  /** Records what a user agent lived through (registered, refused, ...). */
  record(event: Omit<AgentEvent, "source">): void;
}

export interface TrafficSource {
  /** Scenario `traffic[].name`. */
  readonly name: string;
  /** Every user agent's name with the address and port it sends from. */
  readonly agents: readonly AgentEndpoint[];
  /** Schedules the source's first sends. */
  start(context: AgentContext): void;
  /** A datagram addressed to one of this source's endpoints arrived. */
  receive(datagram: Datagram, context: AgentContext): void;
}

export interface AgentEndpoint {
  readonly agent: string;
  /** The address the agent's socket is bound to (a LAN address behind a NAT). */
  readonly address: string;
  readonly port: number;
  /** Name of the NAT host it sits behind, if any. */
  readonly behindNat?: string;
}
