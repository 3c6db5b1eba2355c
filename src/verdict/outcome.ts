/** What happened to one traffic source over a run: what a PBX operator reads first. */

/** One public address of a source, as the firewall saw it. */
export interface AddressOutcome {
  readonly address: string;
  /** Requests the source sent from this address (to the PBX). */
  readonly sent: number;
  readonly delivered: number;
  readonly dropped: number;
  readonly firstSentUs: number;
  readonly firstDropUs: number | null;
  /** 1-based position, among this address's requests, of the first one dropped. */
  readonly packetsToBlock: number | null;
  /** After the first drop, nothing more from this address got through. */
  readonly keptBlocked: boolean;
}

export interface RuleCount {
  /** `chain:index`, or `chain:policy`. */
  readonly rule: string;
  readonly comment?: string;
  readonly count: number;
}

export interface SourceOutcome {
  readonly source: string;
  readonly agents: number;
  /** Agents that got at least one 200 to a REGISTER. */
  readonly registeredAgents: number;
  readonly sent: number;
  readonly delivered: number;
  readonly dropped: number;
  /** PBX replies to this source the firewall dropped (OUTPUT/FORWARD). */
  readonly repliesDropped: number;
  readonly firstSentUs: number | null;
  readonly firstDropUs: number | null;
  readonly lastDropUs: number | null;
  /** Longest time, over its blocked addresses, from first request to first drop. */
  readonly timeToBlockUs: number | null;
  /** Largest packetsToBlock over its blocked addresses. */
  readonly packetsToBlock: number | null;
  readonly addresses: readonly AddressOutcome[];
  readonly dropsByRule: readonly RuleCount[];
  /** Agent events by kind (registered, unauthorized, timeout, ...). */
  readonly events: Readonly<Record<string, number>>;
  /** Passwords this source found (a cracker that got a 200): the attack worked. */
  readonly passwordsFound: readonly PasswordFound[];
  /** Extensions this source confirmed exist (an extension walker told their answer from a random one's). */
  readonly extensionsFound: readonly PasswordFound[];
  /** Calls this source got into the PBX's dialplan (an INVITE it authenticated): what toll fraud needs. */
  readonly callsReached: readonly PasswordFound[];
  /** A scanner's addresses that stopped on their own (sipvicious's give-up after silence): how many, and the first. */
  readonly gaveUp: GaveUp | null;
  /** Other sources that sent from one of this source's public addresses (a shared NAT). */
  readonly sharesAddressWith: readonly string[];
}

/** Addresses of a source that stopped sending because nothing answered them. */
export interface GaveUp {
  readonly addresses: number;
  readonly firstAtUs: number;
  /** What the first to stop said: the tool, its address, its requests sent and why. */
  readonly firstDetail: string;
}

/** A guessed password the PBX accepted, or an extension a walker confirmed. */
export interface PasswordFound {
  readonly account: string;
  readonly atUs: number;
  /** The attacker's agent (its address), and what it found: the password and its guess number, or the answer that gave the extension away. */
  readonly agent: string;
  readonly detail: string;
}
