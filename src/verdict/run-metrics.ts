import type { Scenario } from "../scenario/scenario.js";
import type { RunResult } from "./run-result.js";

/** What one scenario run under one setting cost: attack let through and harm to legitimate users. */
export interface RunMetrics {
  /** Attack requests (flood, scanner, replayed slamming) that reached the PBX. */
  attackDelivered: number;
  attackSent: number;
  /** Attacking addresses never blocked during the run. */
  attackersNeverBlocked: number;
  attackers: number;
  /** Worst blocked attacker: seconds from its first request to its first drop (null: none blocked). */
  maxSecondsToBlock: number | null;
  /** Worst blocked attacker: requests it sent up to and including the first dropped one (null: none blocked). */
  maxPacketsToBlock: number | null;
  /** Legitimate user agents (ones the scenario promises keep working) that never registered. */
  legitRegistrationsLost: number;
  legitAgents: number;
  /** Their requests the firewall dropped. */
  legitDropped: number;
  /** Longest time a legitimate address stayed blocked: first to last dropped request, seconds. */
  legitSecondsBlocked: number;
  /** Passwords the attack found (a cracker that got a 200): the worst outcome a setting can have. */
  passwordsFound: number;
}

const ATTACK_KINDS = new Set(["register-flood", "iax2-flood", "replay"]);

/**
 * Users the scenario promises keep working (an expectation says registered: all
 * or neverBlocked) and who can register at all: not attackers, broken phones or
 * phones configured with a wrong password.
 */
export function legitimateSources(scenario: Scenario): Set<string> {
  const promised = new Set(scenario.expect.filter((expectation) => expectation.registered === "all" || expectation.neverBlocked === true).map((expectation) => expectation.source));
  const attack = attackSources(scenario);
  const canRegister = (name: string) => {
    const spec = scenario.traffic.find((candidate) => candidate.name === name);
    return spec !== undefined && spec.kind !== "broken-phone" && !((spec.kind === "phones" || spec.kind === "iax2-phones") && spec.wrongPassword);
  };
  return new Set([...promised].filter((name) => !attack.has(name) && canRegister(name)));
}

/**
 * Every user who could register, promised or not: not attackers, broken
 * phones or phones with a wrong password. Comparing defences counts harm to
 * all of them, where a scenario's expectations may promise only some.
 */
export function registeringUsers(scenario: Scenario): Set<string> {
  const attack = attackSources(scenario);
  return new Set(scenario.traffic.filter((spec) => !attack.has(spec.name) && spec.kind !== "broken-phone" && !((spec.kind === "phones" || spec.kind === "iax2-phones") && spec.wrongPassword)).map((spec) => spec.name));
}

export function attackSources(scenario: Scenario): Set<string> {
  return new Set(scenario.traffic.filter((spec) => ATTACK_KINDS.has(spec.kind) || (spec.kind === "tool" && spec.tool !== "sipp-register")).map((spec) => spec.name));
}

export function measureRun(scenario: Scenario, result: RunResult, legit: ReadonlySet<string>, attack: ReadonlySet<string>): RunMetrics {
  const metrics: RunMetrics = {
    attackDelivered: 0,
    attackSent: 0,
    attackersNeverBlocked: 0,
    attackers: 0,
    maxSecondsToBlock: null,
    maxPacketsToBlock: null,
    legitRegistrationsLost: 0,
    legitAgents: 0,
    legitDropped: 0,
    legitSecondsBlocked: 0,
    passwordsFound: result.events.filter((event) => event.kind === "password-found" && attack.has(event.source)).length,
  };
  const attackers = new Map<string, { firstUs: number; sent: number; blockedAtUs: number | null; packetsToBlock: number | null }>();
  const legitBlocked = new Map<string, { firstDropUs: number; lastDropUs: number }>();
  for (const verdict of result.verdicts) {
    if (verdict.direction !== "to-pbx") continue;
    const dropped = verdict.verdict === "dropped";
    if (attack.has(verdict.source)) {
      metrics.attackSent++;
      if (!dropped) metrics.attackDelivered++;
      const key = `${verdict.source}\u0000${verdict.srcAddr}`;
      let attacker = attackers.get(key);
      if (!attacker) attackers.set(key, (attacker = { firstUs: verdict.atUs, sent: 0, blockedAtUs: null, packetsToBlock: null }));
      attacker.sent++;
      if (dropped && attacker.blockedAtUs === null) {
        attacker.blockedAtUs = verdict.atUs;
        attacker.packetsToBlock = attacker.sent;
      }
    } else if (legit.has(verdict.source) && dropped) {
      metrics.legitDropped++;
      const blocked = legitBlocked.get(verdict.srcAddr);
      if (blocked) blocked.lastDropUs = verdict.atUs;
      else legitBlocked.set(verdict.srcAddr, { firstDropUs: verdict.atUs, lastDropUs: verdict.atUs });
    }
  }
  metrics.attackers = attackers.size;
  for (const attacker of attackers.values()) {
    if (attacker.blockedAtUs === null) {
      metrics.attackersNeverBlocked++;
    } else {
      metrics.maxSecondsToBlock = worst(metrics.maxSecondsToBlock, (attacker.blockedAtUs - attacker.firstUs) / 1e6);
      metrics.maxPacketsToBlock = worst(metrics.maxPacketsToBlock, attacker.packetsToBlock!);
    }
  }
  for (const blocked of legitBlocked.values()) metrics.legitSecondsBlocked = Math.max(metrics.legitSecondsBlocked, (blocked.lastDropUs - blocked.firstDropUs) / 1e6);
  const registered = new Set(result.events.filter((event) => event.kind === "registered" || event.kind === "subscribed").map((event) => `${event.source}\u0000${event.agent}`));
  for (const source of legit) {
    for (const agent of result.agentsBySource[source] ?? []) {
      metrics.legitAgents++;
      if (!registered.has(`${source}\u0000${agent}`)) metrics.legitRegistrationsLost++;
    }
  }
  return metrics;
}

/** Metrics of several scenario runs under one setting, summed (worst case for the maxima). */
export function combineMetrics(runs: readonly RunMetrics[]): RunMetrics {
  const total: RunMetrics = { attackDelivered: 0, attackSent: 0, attackersNeverBlocked: 0, attackers: 0, maxSecondsToBlock: null, maxPacketsToBlock: null, legitRegistrationsLost: 0, legitAgents: 0, legitDropped: 0, legitSecondsBlocked: 0, passwordsFound: 0 };
  for (const run of runs) {
    total.attackDelivered += run.attackDelivered;
    total.attackSent += run.attackSent;
    total.attackersNeverBlocked += run.attackersNeverBlocked;
    total.attackers += run.attackers;
    total.maxSecondsToBlock = worst(total.maxSecondsToBlock, run.maxSecondsToBlock);
    total.maxPacketsToBlock = worst(total.maxPacketsToBlock, run.maxPacketsToBlock);
    total.legitRegistrationsLost += run.legitRegistrationsLost;
    total.legitAgents += run.legitAgents;
    total.legitDropped += run.legitDropped;
    total.legitSecondsBlocked = Math.max(total.legitSecondsBlocked, run.legitSecondsBlocked);
    total.passwordsFound += run.passwordsFound;
  }
  return total;
}

/** The larger of two maxima, where null means nothing was measured. */
function worst(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
