import type { OracleSend } from "./kernel-oracle.js";

/**
 * Datagram sequences the connection-counting checks (-m connlimit, nft's
 * `ct count`) share, each spaced beyond two jiffies so no outcome depends
 * on which CPU the kernel ran a packet on.
 */

/** Each send `at` 50 ms after the one before, unless it says when. */
export const spaced = (sends: OracleSend[]): OracleSend[] => sends.map((send, index) => ({ at: index * 0.05, ...send }));

/** Four flows from one address (one of them twice, one after another address's), by source port. */
export const SEVEN_FLOW_PACKETS: readonly OracleSend[] = spaced([
  { src: "203.0.113.5", sport: 5001 },
  { src: "203.0.113.5", sport: 5002 },
  { src: "203.0.113.5", sport: 5003 },
  { src: "203.0.113.5", sport: 5001 },
  { src: "203.0.113.5", sport: 5004 },
  { src: "198.51.100.7", sport: 5001 },
  { src: "203.0.113.5", sport: 5002 },
]);

/**
 * New flows only after the first drop (a dropped flow is never met again):
 * what a list counts then does not hang on when a set's gc worker (every
 * second, at the kernel's own phase) prunes the dropped flows.
 */
export const FRESH_FLOW_PACKETS: readonly OracleSend[] = spaced([
  { src: "203.0.113.5", sport: 5001 },
  { src: "203.0.113.5", sport: 5002 },
  { src: "203.0.113.5", sport: 5003 },
  { src: "203.0.113.5", sport: 5004 },
  { src: "198.51.100.7", sport: 5001 },
  { src: "203.0.113.5", sport: 5005 },
]);

/**
 * A flood from 198.18.1.16 every 0.15 s for 3 s (each REGISTER its own
 * CSeq: the paced kernel half tells arrivals apart by payload), a roaming
 * phone's two first packets from the same /24 at 0.8 and 1.3 s, and a new
 * address at 2.55 s: with replies, the flood's flow is ASSURED from 2.1 s.
 */
export const ASSURED_FLOOD: readonly OracleSend[] = [
  ...Array.from({ length: 20 }, (_, index) => ({ src: "198.18.1.16", at: index * 0.15, payload: `REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: ${index + 1} REGISTER\r\n\r\n` })),
  { src: "198.18.1.13", at: 0.8 },
  { src: "198.18.1.13", at: 1.3 },
  { src: "198.18.1.21", at: 2.55 },
].sort((a, b) => a.at - b.at);

/** A REGISTER longer than 80 bytes: a `length 0:80` rule before the counting one lets the short ones past it. */
export const LONG_REGISTER = `REGISTER sip:198.51.100.10 SIP/2.0\r\nContact: <sip:2001@203.0.113.5:5070>\r\n\r\n`;

/** Two flows whose first packets are short (past the counting rule), then their long ones (to spread with spaced()). */
export const LATE_FLOWS: readonly OracleSend[] = [
  { src: "203.0.113.5", sport: 5001 },
  { src: "203.0.113.5", sport: 5002 },
  { src: "203.0.113.5", sport: 5001, payload: LONG_REGISTER },
  { src: "203.0.113.5", sport: 5002, payload: LONG_REGISTER },
  { src: "203.0.113.5", sport: 5002, payload: LONG_REGISTER },
];

