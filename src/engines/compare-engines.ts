import type { Scenario } from "../scenario/scenario.js";
import { compareBans, type BanComparison } from "../verdict/compare-bans.js";
import { compareRuns, type Disagreement, type RunComparison } from "../verdict/compare-runs.js";
import type { RunResult } from "../verdict/run-result.js";
import type { DockerEngine } from "./docker/docker-engine.js";
import { judgeRecorded } from "./model/judge-recorded.js";
import { defaultKernelSettings } from "./model/kernel-settings.js";
import { ModelEngine } from "./model/model-engine.js";

export interface EngineComparison {
  readonly model: RunResult;
  readonly real: RunResult;
  readonly comparison: RunComparison;
  /** The kernel tick's offset the comparison assumed (rejudgeAcrossJiffy). */
  readonly jiffyPhaseUs: number;
  /** fail2ban's bans in both runs, when it ran: the kernel's packets are re-judged with the real bans, so this is its timing's share. */
  readonly bans?: BanComparison;
}

/** The same scenario, seed and traffic on the model and in the kernel, compared packet by packet. */
export async function compareEngines(scenario: Scenario, docker: DockerEngine, seed?: number): Promise<EngineComparison> {
  // The kernel first: the model then starts its wall clock (for -m time) where the kernel's run did.
  const real = await docker.run(scenario, { seed, keepPackets: true });
  const model = await new ModelEngine().run(scenario, { seed, keepPackets: true, ...(real.wallClockStartMs === undefined ? {} : { wallClockStartMs: real.wallClockStartMs }) });
  const placement = scenario.firewall.kind === "policy" ? scenario.firewall.policy.placement : "host";
  const { phaseUs, explainedByTiming } = rejudgeAcrossJiffy(real, placement);
  const comparison = compareRuns(model, real, judgeRecorded(real, placement, {}, { jiffyPhaseUs: phaseUs }), explainedByTiming);
  return {
    model,
    real,
    comparison: describeDisagreementStates(comparison, model, real, placement, phaseUs),
    jiffyPhaseUs: phaseUs,
    ...(model.fail2ban && real.fail2ban ? { bans: compareBans(model.fail2ban, real.fail2ban) } : {}),
  };
}

/**
 * Fills in what the model held for each disagreeing packet, in its own run and
 * given the kernel's times: both runs judged again, describing only those packets.
 */
export function describeDisagreementStates(comparison: RunComparison, model: RunResult, real: RunResult, placement: "host" | "router", jiffyPhaseUs = 0): RunComparison {
  const disagreements = [...comparison.semantic, ...comparison.timingOnly];
  if (disagreements.length === 0) return comparison;
  const atModelTimes = judgeRecorded(model, placement, {}, { describeAt: new Set(disagreements.map((disagreement) => disagreement.modelIndex)) });
  const atKernelTimes = judgeRecorded(real, placement, {}, { jiffyPhaseUs, describeAt: new Set(disagreements.map((disagreement) => disagreement.realIndex)) });
  const described = (disagreement: Disagreement): Disagreement => ({
    ...disagreement,
    modelState: atModelTimes[disagreement.modelIndex]!.stateBefore,
    modelStateAtKernelTimes: atKernelTimes[disagreement.realIndex]!.stateBefore,
  });
  return { ...comparison, semantic: comparison.semantic.map(described), timingOnly: comparison.timingOnly.map(described) };
}

/** Phases tried within one jiffy (4 ms at HZ 250). */
const PHASES = 16;

/**
 * The kernel's packets re-judged by the model with their times shifted across
 * one jiffy (the kernel's tick is not aligned with the run's clock, and a send
 * is stamped a little before or after the kernel sees it). Returns the shift
 * that explains the most verdicts, and for each packet whether any shift
 * explains it: a packet a few milliseconds from a window or token edge, where
 * jitter decides.
 */
export function rejudgeAcrossJiffy(real: RunResult, placement: "host" | "router"): { phaseUs: number; explainedByTiming: boolean[] } {
  const jiffyUs = 1_000_000 / defaultKernelSettings.hz;
  const explainedByTiming = real.verdicts.map(() => false);
  let best = { phaseUs: 0, agreeing: -1 };
  for (let step = 0; step < PHASES; step++) {
    const phaseUs = Math.round((step * jiffyUs) / PHASES);
    const judged = judgeRecorded(real, placement, {}, { jiffyPhaseUs: phaseUs });
    let agreeing = 0;
    judged.forEach((judgement, index) => {
      if ((judgement.accepted ? "delivered" : "dropped") !== real.verdicts[index]!.verdict) return;
      agreeing++;
      explainedByTiming[index] = true;
    });
    if (agreeing > best.agreeing) best = { phaseUs, agreeing };
    if (agreeing === real.verdicts.length) break;
  }
  explainByMovingPackets(real, placement, best.phaseUs, explainedByTiming);
  return { phaseUs: best.phaseUs, explainedByTiming };
}

/** Re-judgings spent on moving single packets; beyond it the phase alone decides. */
const MOVE_BUDGET = 400;

/**
 * A packet still unexplained may sit on a jiffy edge that no common phase
 * puts right: its own timestamp and the moment the filter read jiffies are a
 * few µs apart, and a tick can fall between. Moving that one packet by one
 * jiffy, on top of the moves that explained earlier packets, and re-judging
 * the run shows whether the kernel's verdict is one jiffy away.
 */
function explainByMovingPackets(real: RunResult, placement: "host" | "router", phaseUs: number, explainedByTiming: boolean[]): void {
  const verdictOf = (judgement: { accepted: boolean }) => (judgement.accepted ? "delivered" : "dropped");
  const moves = new Map<number, number>();
  let budget = MOVE_BUDGET;
  for (let index = 0; index < real.verdicts.length; index++) {
    if (explainedByTiming[index]) continue;
    for (const shift of [1, -1]) {
      if (budget-- <= 0) return;
      const tried = new Map(moves).set(index, shift);
      const judged = judgeRecorded(real, placement, {}, { jiffyPhaseUs: phaseUs, shiftJiffies: tried });
      if (verdictOf(judged[index]!) !== real.verdicts[index]!.verdict) continue;
      moves.set(index, shift);
      // The move may put later packets right as well.
      judged.forEach((judgement, later) => {
        if (later >= index && verdictOf(judgement) === real.verdicts[later]!.verdict) explainedByTiming[later] = true;
      });
      break;
    }
  }
}
