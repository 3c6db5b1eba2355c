import type { SourceOutcome } from "./outcome.js";
import type { AgentEvent, Verdict } from "./verdict.js";

/** What fail2ban's jail did in a run. */
export interface Fail2banRun {
  /** The sets its ban actions fill (the ruleset's jail rules match them). */
  readonly sets: readonly string[];
  readonly bantimeSeconds: number;
  /** Each ban: the address and when it reached the kernel (the docker lab: fail2ban's logged time, moved to where its packets show the set took it). */
  readonly bans: ReadonlyArray<{ readonly address: string; readonly atUs: number }>;
}

/** Everything a run decided, in the one format both engines produce. */
export interface RunResult {
  readonly engine: "model" | "docker";
  readonly scenario: string;
  readonly variant: string | null;
  readonly seed: number;
  /** The ruleset text the firewall ran. */
  readonly rulesetText: string;
  /** The ip6tables rules IPv6 packets met beside them (ip6tables-save text), when the run had any IPv6. */
  readonly ipv6RulesetText?: string;
  /** The `ipset save` text of the sets the ruleset names, when it names any; loaded before the ruleset. */
  readonly ipsetText?: string;
  /** The firewall host's own addresses (addrtype LOCAL): the PBX's when the firewall runs on it. */
  readonly localAddresses?: readonly string[];
  /** Every verdict, unless the run was told not to keep them (RunOptions.keepVerdicts false): then empty, and `outcomes` holds what they added up to. */
  readonly verdicts: readonly Verdict[];
  /** Packets judged; verdicts.length when verdicts were kept. */
  readonly packetsJudged?: number;
  /** Per-source outcomes counted while the run went, when its verdicts were not kept. */
  readonly outcomes?: readonly SourceOutcome[];
  readonly events: readonly AgentEvent[];
  /** Lines Asterisk logged about failed requests (what fail2ban's asterisk filter reads). */
  readonly asteriskLogLines?: number;
  /** Asterisk's security events by source and event name (InvalidAccountID, ChallengeSent, ChallengeResponseFailed, SuccessfulAuth): its own account of who failed to authenticate; `unattributed` for endpoints no source sent from. */
  readonly securityEvents?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** SIP requests each source wrote to TCP or TLS connections: its segments and records do not tell them (a request cut in two, several in one, encrypted). */
  readonly requestsWritten?: Readonly<Record<string, number>>;
  /** fail2ban, when it ran beside the firewall. */
  readonly fail2ban?: Fail2banRun;
  /** Agents per source (for "all registered" and per-source outcomes). */
  readonly agentsBySource: Readonly<Record<string, readonly string[]>>;
  /** Time the traffic covered, in microseconds. */
  readonly durationUs: number;
  /** Wall-clock milliseconds the run took. */
  readonly wallMs: number;
  /** The wall clock (ms since the epoch) at virtual time 0: what -m time judged by. */
  readonly wallClockStartMs?: number;
  /** Versions and settings that shaped the result (kernel HZ, Asterisk, iptables). */
  readonly environment: Readonly<Record<string, string>>;
  /** Files that explain the run (docker: pjsip.conf, iptables-save -c, /proc/net/xt_recent, pjsip show contacts), by name. */
  readonly artifacts?: Readonly<Record<string, string>>;
  /** The IPv4 datagram of each verdict, by packetId, when RunOptions.keepPackets was set. */
  readonly packets?: readonly Uint8Array[];
}

/** How many packets a run judged, whether or not it kept their verdicts. */
export function packetsJudged(result: RunResult): number {
  return result.packetsJudged ?? result.verdicts.length;
}

/** Adds one security event to a tally by source and event name. */
export function countSecurityEvent(tally: Record<string, Record<string, number>>, source: string, name: string, count = 1): void {
  const bySource = (tally[source] ??= {});
  bySource[name] = (bySource[name] ?? 0) + count;
}
