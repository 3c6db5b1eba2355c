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
  /** The packet's index among each run's verdicts. */
  readonly modelIndex: number;
  readonly realIndex: number;
  /**
   * What the model held for this packet just before judging it (conntrack, its
   * recent entries, hashlimit and limit buckets): in its own run, and given the
   * kernel's packet times. The kernel's own state at that moment is not
   * observable; its xt_recent tables at the end are in the run's artifacts.
   * Empty until describeDisagreementStates fills them.
   */
  readonly modelState: string;
  readonly modelStateAtKernelTimes: string;
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
export function compareRuns(
  model: RunResult,
  real: RunResult,
  rejudged: ReadonlyArray<{ accepted: boolean; rule: RuleRef }>,
  /** Per real packet: some re-judging within a jiffy of its recorded time decides as the kernel did. */
  explainedByTiming?: readonly boolean[],
): RunComparison {
  // Pairing by CSeq (and the retransmission's number within it) keeps one missing
  // retransmission from shifting every later packet of the agent onto the wrong partner.
  const byTransaction = model.packets !== undefined && real.packets !== undefined;
  const key = (verdict: Verdict, run: RunResult) =>
    `${verdict.source}\u0000${verdict.agent}\u0000${verdict.direction}\u0000${byTransaction ? sipTransactionOf(run.packets![verdict.packetId]) : ""}`;
  const modelSequences = new Map<string, Verdict[]>();
  for (const verdict of model.verdicts) {
    const k = key(verdict, model);
    const list = modelSequences.get(k);
    if (list) list.push(verdict);
    else modelSequences.set(k, [verdict]);
  }
  const occurrences = new Map<string, number>();
  const positions = new Map<string, number>();
  const semantic: Disagreement[] = [];
  const timingOnly: Disagreement[] = [];
  let paired = 0;
  let agreeing = 0;
  real.verdicts.forEach((realVerdict, index) => {
    const agentKey = `${realVerdict.source}\u0000${realVerdict.agent}\u0000${realVerdict.direction}`;
    const position = positions.get(agentKey) ?? 0;
    positions.set(agentKey, position + 1);
    const k = key(realVerdict, real);
    const occurrence = occurrences.get(k) ?? 0;
    occurrences.set(k, occurrence + 1);
    const modelVerdict = modelSequences.get(k)?.[occurrence];
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
      modelIndex: modelVerdict.packetId,
      realIndex: index,
      modelState: "",
      modelStateAtKernelTimes: "",
    };
    if (explainedByTiming ? explainedByTiming[index] : (rejudge.accepted ? "delivered" : "dropped") === realVerdict.verdict) timingOnly.push(disagreement);
    else semantic.push(disagreement);
  });
  const unpaired = model.verdicts.length + real.verdicts.length - 2 * paired;
  return { paired, agreeing, semantic, timingOnly, unpaired };
}

const CSEQ = /^CSeq[ \t]*:[ \t]*(\d+)[ \t]+([A-Za-z]+)/im;

/** Requests the PBX starts in a dialog: PJSIP numbers them from a random CSeq (pj_rand() & 0x7FFF). */
const PBX_NUMBERED = new Set(["NOTIFY"]);

/**
 * The CSeq ("2 REGISTER") of a SIP datagram, "" for anything else (a later
 * fragment, not SIP). Call-IDs are random draws, and replies arriving in a
 * different order shift an agent's draws, so they differ between engines.
 * A NOTIFY and the phone's answer to it pair by method and order alone: the
 * numbers are Asterisk's random draws.
 */
export function sipTransactionOf(datagram: Uint8Array | undefined): string {
  if (!datagram || datagram.length < 28) return "";
  // UDP's payload after IPv4's header (with its options) or IPv6's fixed 40 bytes.
  const ipv6 = datagram[0]! >> 4 === 6;
  if ((ipv6 ? datagram[6] : datagram[9]) !== 17) return "";
  const payloadStart = (ipv6 ? 40 : (datagram[0]! & 0x0f) * 4) + 8;
  const text = Buffer.from(datagram.buffer, datagram.byteOffset + payloadStart, Math.max(0, Math.min(datagram.length - payloadStart, 2048))).toString("latin1");
  const match = CSEQ.exec(text);
  if (!match) return "";
  return PBX_NUMBERED.has(match[2]!.toUpperCase()) ? match[2]!.toUpperCase() : `${match[1]} ${match[2]}`;
}
