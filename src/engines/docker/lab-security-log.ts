import { countSecurityEvent } from "../../verdict/run-result.js";
import type { Verdict } from "../../verdict/verdict.js";
import { ASTERISK_SECURITY_LOG } from "./pjsip-config.js";

/** Security events counted by event, remote address and port in the container: a flood's log is as long as the flood. */
export const COUNT_SECURITY_EVENTS = `sed -n -E 's/.*SecurityEvent="([A-Za-z]+)".*RemoteAddress="IPV[46]\\/[A-Z]+\\/([^"]+)\\/([0-9]+)".*/\\1 \\2 \\3/p' ${ASTERISK_SECURITY_LOG} 2>/dev/null | sort | uniq -c`;

export interface SecurityEventCount {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly count: number;
}

/** `uniq -c` lines of COUNT_SECURITY_EVENTS ("  15 ChallengeSent 198.18.66.7 5060"). */
export function parseSecurityEventCounts(output: string): SecurityEventCount[] {
  return output.split("\n").flatMap((line) => {
    const match = /^\s*(\d+) ([A-Za-z]+) (\S+) (\d+)$/.exec(line);
    return match ? [{ count: Number(match[1]), name: match[2]!, address: match[3]!, port: Number(match[4]) }] : [];
  });
}

/** The counts by the source that sent from each remote address and port, as the firewall saw its packets reach the PBX. */
export function securityEventsBySource(counts: readonly SecurityEventCount[], verdicts: readonly Verdict[]): Record<string, Record<string, number>> {
  const sourceOf = new Map<string, string>();
  for (const verdict of verdicts) if (verdict.direction === "to-pbx") sourceOf.set(`${verdict.srcAddr}:${verdict.srcPort}`, verdict.source);
  const tally: Record<string, Record<string, number>> = {};
  for (const { name, address, port, count } of counts) countSecurityEvent(tally, sourceOf.get(`${address}:${port}`) ?? "unattributed", name, count);
  return tally;
}
