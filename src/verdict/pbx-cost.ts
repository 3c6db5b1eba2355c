import type { TrafficSourceSpec } from "../scenario/schema.js";

/**
 * What answering an attack costs Asterisk 22, per request that reaches it,
 * measured in the docker lab (`node dist/bench/docker-lab.js --sections
 * request-cost`: a 500 REGISTER/s flood's CPU less an idle run's, per
 * request delivered; 2026-12-05, 2 x AMD EPYC, Asterisk 22.10.1): a
 * REGISTER without credentials gets a 401 and its
 * challenge; one with wrong credentials is checked (MD5) and logged first.
 * The model engine estimates a run's PBX CPU from these; the docker engine
 * measures Asterisk's own.
 */
export const ASTERISK_CPU_US_PER_REQUEST = {
  challenge: 522,
  failedAuthentication: 644,
  /**
   * An IAX2 guesser's frame (three REGREQs and an ACK a guess), as chan_iax2
   * handles them: 149 µs a frame where the same run measured 356 µs a
   * challenged REGISTER (2026-12-06, `--sections request-cost`), 0.42 of
   * it, scaled to the challenge figure above.
   */
  iax2Frame: 218,
} as const;

export type RequestCost = keyof typeof ASTERISK_CPU_US_PER_REQUEST;

/** A source whose requests are password guesses: svcrack, the model's or the real one, and an IAX2 guesser. */
export function guessesPasswords(spec: TrafficSourceSpec): boolean {
  return (spec.kind === "register-flood" && spec.mode === "svcrack") || (spec.kind === "iax2-flood" && spec.mode === "guess") || (spec.kind === "tool" && spec.tool === "svcrack");
}

/** What each of a source's requests costs Asterisk: IAX2 frames their own, a SIP password guesser's a failed authentication, any other a challenge. */
export function requestCostOf(spec: TrafficSourceSpec): RequestCost {
  if (spec.kind === "iax2-flood" || spec.kind === "iax2-phones") return "iax2Frame";
  return guessesPasswords(spec) ? "failedAuthentication" : "challenge";
}

/** An attack's PBX CPU in ms, estimated from its requests that reached the PBX. */
export function estimatedPbxCpuMs(requestsReachedPbx: number, cost: RequestCost): number {
  return (requestsReachedPbx * ASTERISK_CPU_US_PER_REQUEST[cost]) / 1000;
}

/**
 * Asterisk's CPU over a run: measured by the docker engine; estimated
 * from the requests that reached the PBX otherwise, each at its source's
 * cost (requestCostOf; a source not named, a challenge).
 */
export function runPbxCpuMs(result: { readonly engine: string; readonly environment: Readonly<Record<string, string>>; readonly verdicts: ReadonlyArray<{ readonly direction: string; readonly verdict: string; readonly source: string }> }, costs: ReadonlyMap<string, RequestCost>): { readonly ms: number; readonly measured: boolean } {
  const measured = Number(result.environment["asterisk cpu (s)"]);
  if (result.engine === "docker" && Number.isFinite(measured)) return { ms: measured * 1000, measured: true };
  let us = 0;
  for (const verdict of result.verdicts) {
    if (verdict.direction !== "to-pbx" || verdict.verdict !== "delivered") continue;
    us += ASTERISK_CPU_US_PER_REQUEST[costs.get(verdict.source) ?? "challenge"];
  }
  return { ms: us / 1000, measured: false };
}
