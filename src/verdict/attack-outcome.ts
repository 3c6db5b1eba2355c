import type { Scenario } from "../scenario/scenario.js";
import type { PasswordFound, SourceOutcome } from "./outcome.js";
import type { RunResult } from "./run-result.js";
import { estimatedPbxCpuMs, requestCostOf } from "./pbx-cost.js";
import { attackSources } from "./run-metrics.js";

/**
 * Whether an attack worked, per attacking source: what an admin asks before
 * which packets were dropped. A cracker wins with a password, a walker with
 * the extensions it told apart; what reached the PBX is what it cost the
 * PBX (each a request Asterisk parsed, answered and logged).
 */
export interface AttackOutcome {
  readonly source: string;
  /** What attacked: sipvicious's mode in the model (svwar, svcrack), the real tool's name, or a replayed capture. */
  readonly tool: string;
  /** Requests it sent: over UDP its datagrams, over TCP or TLS the requests it wrote to its connections. */
  readonly requestsSent: number;
  /** Requests that got past the firewall to the PBX (over TCP or TLS, those Asterisk's security log says it handled). */
  readonly requestsReachedPbx: number;
  readonly passwordsFound: readonly PasswordFound[];
  readonly extensionsFound: readonly PasswordFound[];
  /** Its calls the PBX took into the dialplan (toll fraud, when the dialplan dials out). */
  readonly callsReached: readonly PasswordFound[];
  /** It found a password, confirmed an extension or got a call into the dialplan. */
  readonly won: boolean;
  /** Asterisk's CPU its requests cost, estimated from the lab's measured cost per request (pbx-cost.ts). */
  readonly estimatedPbxCpuMs: number;
  /** Asterisk's security events about its requests, by event name (its security log in the lab, the PBX model's own otherwise). */
  readonly securityEvents: Readonly<Record<string, number>>;
  /**
   * Over TCP (and TLS) the firewall judges segments, not requests (a
   * handshake, ACKs, a request cut in two, records): the segments it sent.
   */
  readonly tcpSegmentsSent?: number;
}

/** Each request Asterisk authenticates logs one of these: so many requests reached it, whatever carried them. */
const ONE_PER_REQUEST = ["ChallengeSent", "ChallengeResponseFailed", "SuccessfulAuth"];

/** `engine`: a real tool runs as itself in the lab and as its twin in the model, and the report says which. */
export function attackOutcomes(
  scenario: Scenario,
  outcomes: readonly SourceOutcome[],
  securityEvents: RunResult["securityEvents"] = {},
  engine: RunResult["engine"] = "docker",
  requestsWritten: RunResult["requestsWritten"] = {},
): AttackOutcome[] {
  const attack = attackSources(scenario);
  return scenario.traffic
    .filter((spec) => attack.has(spec.name))
    .map((spec): AttackOutcome => {
      const outcome = outcomes.find((candidate) => candidate.source === spec.name);
      const tool = spec.kind === "register-flood" ? spec.mode : spec.kind === "iax2-flood" ? `IAX2 ${spec.mode}` : spec.kind === "tool" ? (engine === "docker" ? `real ${spec.tool}` : `${spec.tool}'s twin`) : spec.kind;
      const passwordsFound = outcome?.passwordsFound ?? [];
      const extensionsFound = outcome?.extensionsFound ?? [];
      const callsReached = outcome?.callsReached ?? [];
      const events = securityEvents[spec.name] ?? {};
      const overTcp = spec.kind === "register-flood" && spec.transport !== "udp";
      const requestsReachedPbx = overTcp ? ONE_PER_REQUEST.reduce((sum, name) => sum + (events[name] ?? 0), 0) : (outcome?.delivered ?? 0);
      return {
        source: spec.name,
        tool,
        requestsSent: overTcp ? (requestsWritten[spec.name] ?? requestsReachedPbx) : (outcome?.sent ?? 0),
        requestsReachedPbx,
        passwordsFound,
        extensionsFound,
        callsReached,
        won: passwordsFound.length > 0 || extensionsFound.length > 0 || callsReached.length > 0,
        estimatedPbxCpuMs: estimatedPbxCpuMs(requestsReachedPbx, requestCostOf(spec)),
        securityEvents: events,
        ...(overTcp ? { tcpSegmentsSent: outcome?.sent ?? 0 } : {}),
      };
    });
}

/** One line per attack: what it found, or that it found nothing, and what reached the PBX. */
export function describeAttack(attack: AttackOutcome, seconds: (us: number) => string): string {
  const cpu = attack.estimatedPbxCpuMs >= 1000 ? `${(attack.estimatedPbxCpuMs / 1000).toFixed(1)} s` : `${Math.round(attack.estimatedPbxCpuMs)} ms`;
  const reached =
    attack.tcpSegmentsSent === undefined
      ? `${attack.requestsReachedPbx} of its ${attack.requestsSent} requests reached the PBX (about ${cpu} of Asterisk's CPU)`
      : `${attack.requestsReachedPbx} of the ${attack.requestsSent} requests it wrote reached the PBX, by its security log, in ${attack.tcpSegmentsSent} TCP segments it sent (about ${cpu} of Asterisk's CPU)`;
  const found: string[] = [];
  for (const find of attack.passwordsFound) found.push(`found the password of ${find.account} at ${seconds(find.atUs)} (${find.detail})`);
  if (attack.extensionsFound.length) {
    const names = attack.extensionsFound.map((find) => find.account);
    found.push(`confirmed ${names.length} extension${names.length === 1 ? "" : "s"} (${names.slice(0, 8).join(", ")}${names.length > 8 ? ", ..." : ""}), the first at ${seconds(attack.extensionsFound[0]!.atUs)}`);
  }
  if (attack.callsReached.length) {
    const calls = attack.callsReached.length;
    found.push(`got ${calls} call${calls === 1 ? "" : "s"} into the dialplan, the first at ${seconds(attack.callsReached[0]!.atUs)} (${attack.callsReached[0]!.detail})`);
  }
  const who = attack.tool === attack.source ? attack.source : `${attack.source} (${attack.tool})`;
  const events = Object.entries(attack.securityEvents).sort(([a], [b]) => a.localeCompare(b));
  const logged = events.length ? `; Asterisk's security log: ${events.map(([name, count]) => `${count} ${name}`).join(", ")}` : "";
  if (found.length) return `${who} ${found.join("; ")}; ${reached}${logged}`;
  const nothing = attack.tool.endsWith("svwar") ? "confirmed no extension (every answer was a random extension's)" : attack.tool.endsWith("svcrack") ? "found no password" : "found nothing";
  return `${who} ${nothing}; ${reached}${logged}`;
}
