import type { Engine } from "../engines/engine.js";
import type { Scenario } from "../scenario/scenario.js";
import { attackSources, combineMetrics, measureRun, registeringUsers, type RunMetrics } from "../verdict/run-metrics.js";
import type { RunResult } from "../verdict/run-result.js";
import { requestCostOf, runPbxCpuMs } from "../verdict/pbx-cost.js";
import { scenarioWithDefence, type DefenceName } from "./defences.js";

/** One scenario under one defence: what the attack achieved, what it cost the PBX and what the defence cost the phones. */
export interface DefenceRun {
  readonly defence: DefenceName;
  readonly scenario: string;
  readonly metrics: RunMetrics;
  /** Passwords the attackers found (an account registered by a cracker), and when the first was found. */
  readonly passwordsFound: number;
  readonly firstPasswordAtUs: number | null;
  /** Attackers' calls the PBX took into its dialplan (toll fraud). */
  readonly callsReached: number;
  /** Requests that reached Asterisk, from every source: the work the PBX had to do. */
  readonly pbxRequests: number;
  /** Attacking addresses that stopped on their own, nothing answering them. */
  readonly attackersGaveUp: number;
  /** Lines Asterisk logged about failed requests (what fail2ban reads, and what fills the log). */
  readonly asteriskLogLines: number;
  /** Asterisk's CPU: measured on the docker engine, estimated from measured per-request costs on the model. */
  readonly pbxCpuMs: number;
  readonly pbxCpuMeasured: boolean;
}

/** Every defence's runs summed over the scenarios. */
export interface DefenceSummary {
  readonly defence: DefenceName;
  readonly scenarios: number;
  readonly metrics: RunMetrics;
  readonly passwordsFound: number;
  readonly callsReached: number;
  readonly pbxRequests: number;
  readonly attackersGaveUp: number;
  readonly asteriskLogLines: number;
  readonly pbxCpuMs: number;
  readonly pbxCpuMeasured: boolean;
}

export function measureDefenceRun(scenario: Scenario, defence: DefenceName, result: RunResult): DefenceRun {
  const attack = attackSources(scenario);
  const metrics = measureRun(scenario, result, registeringUsers(scenario), attack);
  const findTimes = result.events.filter((event) => event.kind === "password-found" && attack.has(event.source)).map((event) => event.atUs);
  return {
    defence,
    scenario: scenario.variant ? `${scenario.name} [${scenario.variant}]` : scenario.name,
    metrics,
    passwordsFound: metrics.passwordsFound,
    firstPasswordAtUs: findTimes.length ? Math.min(...findTimes) : null,
    callsReached: result.events.filter((event) => event.kind === "call-reached" && attack.has(event.source)).length,
    pbxRequests: result.verdicts.filter((verdict) => verdict.direction === "to-pbx" && verdict.verdict === "delivered").length,
    attackersGaveUp: result.events.filter((event) => event.kind === "gave-up" && attack.has(event.source)).length,
    asteriskLogLines: result.asteriskLogLines ?? 0,
    ...pbxCpu(scenario, result),
  };
}

function pbxCpu(scenario: Scenario, result: RunResult): { pbxCpuMs: number; pbxCpuMeasured: boolean } {
  const costs = new Map(scenario.traffic.map((spec) => [spec.name, requestCostOf(spec)] as const));
  const { ms, measured } = runPbxCpuMs(result, costs);
  return { pbxCpuMs: ms, pbxCpuMeasured: measured };
}

/** Runs each scenario under each defence, in turn, on one engine. */
export async function compareDefences(scenarios: readonly Scenario[], defences: readonly DefenceName[], engine: Engine, onRun: (run: DefenceRun) => void = () => {}): Promise<DefenceRun[]> {
  const runs: DefenceRun[] = [];
  for (const scenario of scenarios) {
    for (const defence of defences) {
      const defended = scenarioWithDefence(scenario, defence);
      const run = measureDefenceRun(defended, defence, await engine.run(defended, { keepVerdicts: true }));
      runs.push(run);
      onRun(run);
    }
  }
  return runs;
}

export function summarizeDefences(runs: readonly DefenceRun[], defences: readonly DefenceName[]): DefenceSummary[] {
  return defences.map((defence) => {
    const own = runs.filter((run) => run.defence === defence);
    const sum = (pick: (run: DefenceRun) => number) => own.reduce((total, run) => total + pick(run), 0);
    const metrics = combineMetrics(own.map((run) => run.metrics));
    return {
      defence,
      scenarios: own.length,
      metrics,
      passwordsFound: metrics.passwordsFound,
      callsReached: sum((run) => run.callsReached),
      pbxRequests: sum((run) => run.pbxRequests),
      attackersGaveUp: sum((run) => run.attackersGaveUp),
      asteriskLogLines: sum((run) => run.asteriskLogLines),
      pbxCpuMs: sum((run) => run.pbxCpuMs),
      pbxCpuMeasured: own.every((run) => run.pbxCpuMeasured),
    };
  });
}

/**
 * Which defence did best, and why, in the order an admin weighs it: no
 * password found, then no phone locked out, then the least attack reaching
 * the PBX (the load the reference post is about), then the fewest legitimate
 * requests dropped (phones retransmit them).
 */
export function bestDefence(summaries: readonly DefenceSummary[]): { defence: DefenceName; reason: string } | null {
  if (summaries.length === 0) return null;
  const key = (summary: DefenceSummary) => [summary.passwordsFound, summary.callsReached, summary.metrics.legitRegistrationsLost, summary.metrics.attackDelivered, summary.metrics.legitDropped];
  const ranked = [...summaries].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    for (let index = 0; index < x.length; index++) if (x[index] !== y[index]) return x[index]! - y[index]!;
    return 0;
  });
  const best = ranked[0]!;
  const runnerUp = ranked[1];
  const parts = [
    best.passwordsFound === 0 ? "no password found" : `${best.passwordsFound} password${best.passwordsFound === 1 ? "" : "s"} found`,
    ...(best.callsReached ? [`${best.callsReached} call${best.callsReached === 1 ? "" : "s"} reached the dialplan`] : []),
    best.metrics.legitRegistrationsLost === 0 ? "every phone registered" : `${best.metrics.legitRegistrationsLost} phone${best.metrics.legitRegistrationsLost === 1 ? "" : "s"} never registered`,
    `${best.metrics.attackDelivered} of ${best.metrics.attackSent} attack requests reached the PBX`,
    `${best.metrics.legitDropped} legitimate request${best.metrics.legitDropped === 1 ? "" : "s"} dropped`,
  ];
  const tie = runnerUp && key(runnerUp).every((value, index) => value === key(best)[index]);
  return { defence: best.defence, reason: `${parts.join(", ")}${tie ? ` (a tie with ${runnerUp.defence})` : ""}` };
}
