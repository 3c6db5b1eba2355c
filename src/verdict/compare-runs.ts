import type { RuleRef } from "../firewall/ruleset.js";
import type { RunResult } from "./run-result.js";
import type { Verdict } from "./verdict.js";

export interface Disagreement {
  readonly source: string;
  readonly agent: string;
  readonly direction: Verdict["direction"];
  /** 1-based position among that agent's packets in that direction. */
  readonly position: number;
  readonly modelAtUs: number;
  readonly realAtUs: number;
  readonly model: { readonly verdict: Verdict["verdict"]; readonly rule: RuleRef };
  readonly real: { readonly verdict: Verdict["verdict"]; readonly rule: RuleRef };
  /** The model's state before the packet, at the real packet's time. */
  readonly modelState: string;
}

export interface RunComparison {
  /** Packets both engines judged (paired by agent, direction and position). */
  readonly paired: number;
  readonly agreeing: number;
  /** The model, given the kernel's own packet times, still decides otherwise: a real difference. */
  readonly semantic: readonly Disagreement[];
  /** The model agrees once it sees the kernel's packet times: jitter decided, not semantics. */
  readonly timingOnly: readonly Disagreement[];
  /** Packets one engine judged and the other did not (retransmissions that timing made differ). */
  readonly unpaired: number;
}

/**
 * Packet-by-packet comparison of a model run and a real run of the same
 * scenario. `rejudged[i]` is the model's verdict for the real run's i-th
 * packet at its real time (judgeRecorded): it separates what timing explains
 * from what the model gets wrong.
 */
export function compareRuns(model: RunResult, real: RunResult, rejudged: ReadonlyArray<{ accepted: boolean; rule: RuleRef; recentBefore: string }>): RunComparison {
  const key = (verdict: Verdict) => `${verdict.source}\u0000${verdict.agent}\u0000${verdict.direction}`;
  const modelSequences = new Map<string, Verdict[]>();
  for (const verdict of model.verdicts) {
    const list = modelSequences.get(key(verdict));
    if (list) list.push(verdict);
    else modelSequences.set(key(verdict), [verdict]);
  }
  const positions = new Map<string, number>();
  const semantic: Disagreement[] = [];
  const timingOnly: Disagreement[] = [];
  let paired = 0;
  let agreeing = 0;
  real.verdicts.forEach((realVerdict, index) => {
    const k = key(realVerdict);
    const position = positions.get(k) ?? 0;
    positions.set(k, position + 1);
    const modelVerdict = modelSequences.get(k)?.[position];
    if (!modelVerdict) return;
    paired++;
    if (modelVerdict.verdict === realVerdict.verdict) {
      agreeing++;
      return;
    }
    const rejudge = rejudged[index]!;
    const disagreement: Disagreement = {
      source: realVerdict.source,
      agent: realVerdict.agent,
      direction: realVerdict.direction,
      position: position + 1,
      modelAtUs: modelVerdict.atUs,
      realAtUs: realVerdict.atUs,
      model: { verdict: modelVerdict.verdict, rule: modelVerdict.rule },
      real: { verdict: realVerdict.verdict, rule: realVerdict.rule },
      modelState: rejudge.recentBefore,
    };
    if ((rejudge.accepted ? "delivered" : "dropped") === realVerdict.verdict) timingOnly.push(disagreement);
    else semantic.push(disagreement);
  });
  const unpaired = model.verdicts.length + real.verdicts.length - 2 * paired;
  return { paired, agreeing, semantic, timingOnly, unpaired };
}
