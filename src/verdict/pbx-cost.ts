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
export const ASTERISK_CPU_US_PER_REQUEST = { challenge: 522, failedAuthentication: 644 } as const;

/** A source whose requests are password guesses (failed authentications, each costlier than a challenge): svcrack, the model's or the real one, and an IAX2 guesser (its cost not yet measured apart from SIP's). */
export function guessesPasswords(spec: TrafficSourceSpec): boolean {
  return (spec.kind === "register-flood" && spec.mode === "svcrack") || (spec.kind === "iax2-flood" && spec.mode === "guess") || (spec.kind === "tool" && spec.tool === "svcrack");
}

/** An attack's PBX CPU in ms, estimated from its requests that reached the PBX: a password guesser's are mostly failed authentications. */
export function estimatedPbxCpuMs(requestsReachedPbx: number, guessesPasswords: boolean): number {
  const each = guessesPasswords ? ASTERISK_CPU_US_PER_REQUEST.failedAuthentication : ASTERISK_CPU_US_PER_REQUEST.challenge;
  return (requestsReachedPbx * each) / 1000;
}

/**
 * Asterisk's CPU over a run: measured by the docker engine; estimated
 * from the requests that reached the PBX otherwise, a password guesser's as
 * failed authentications and every other request as a challenge.
 */
export function runPbxCpuMs(result: { readonly engine: string; readonly environment: Readonly<Record<string, string>>; readonly verdicts: ReadonlyArray<{ readonly direction: string; readonly verdict: string; readonly source: string }> }, guessers: ReadonlySet<string>): { readonly ms: number; readonly measured: boolean } {
  const measured = Number(result.environment["asterisk cpu (s)"]);
  if (result.engine === "docker" && Number.isFinite(measured)) return { ms: measured * 1000, measured: true };
  let us = 0;
  for (const verdict of result.verdicts) {
    if (verdict.direction !== "to-pbx" || verdict.verdict !== "delivered") continue;
    us += guessers.has(verdict.source) ? ASTERISK_CPU_US_PER_REQUEST.failedAuthentication : ASTERISK_CPU_US_PER_REQUEST.challenge;
  }
  return { ms: us / 1000, measured: false };
}
