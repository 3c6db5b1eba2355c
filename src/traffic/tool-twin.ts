import type { PbxSpec, TrafficSourceSpec } from "../scenario/schema.js";
import { isSippOffice } from "../scenario/sipp-office-tool.js";
import { userSequence } from "../scenario/user-list.js";
import type { TrafficSource } from "./agent.js";
import type { AgentPlacement } from "./agent-placement.js";
import { passwordFor } from "./passwords.js";
import { createPhones } from "./phones.js";
import { createRegisterFlood, rangeWalk } from "./register-flood.js";
import { createSippOffice } from "./sipp-office.js";

type ToolSpec = Extract<TrafficSourceSpec, { kind: "tool" }>;

/**
 * sipvicious's pace: svwar.py and svcrack.py send whenever their 5 ms
 * select() times out with nothing to read, so about 190 requests a second
 * whatever comes back. Measured in the lab: real svcrack 176-190 a second
 * (test/engines/docker/svcrack-fidelity.test.ts); real svwar's pace never
 * shows against PJSIP (it stops after its second request), and its loop is
 * the same.
 */
export const SIPVICIOUS_PPS = 185;
/** sipvicious 0.3.3's --maximumtime: both stop after 10 s without an answer (svwar's option default overrides its class's 15). */
const GIVE_UP_SECONDS = 10;

/**
 * The model's stand-in for a real tool of the docker lab, so one scenario
 * runs on both engines: svwar and svcrack as the register-flood that sends
 * what they send (their pace, their port, svcrack's numeric range in order,
 * which it stops at, svwar's stop at an answer like a random extension's),
 * SIPp as the phone or the SIPp office its scenario file registers.
 */
export function createToolTwin(spec: ToolSpec, pbx: PbxSpec, placement: AgentPlacement, port: number, durationSeconds: number): TrafficSource {
  const base = { name: spec.name, host: spec.host, startSeconds: spec.startSeconds };
  const floodFor = Math.max(durationSeconds - spec.startSeconds, 0.001);
  const flood = {
    ...base,
    kind: "register-flood" as const,
    ratePps: SIPVICIOUS_PPS,
    durationSeconds: floodFor,
    sourcePort: port,
    userAgent: "friendly-scanner",
    method: "REGISTER" as const,
    callTo: "00442079460000",
    onAnswerLikeRandom: "stop" as const,
    addressCount: 1,
    passwords: [],
  };
  switch (spec.tool) {
    case "svwar":
      return createRegisterFlood({ ...flood, mode: "svwar", extensions: targets(spec.target), giveUpSeconds: GIVE_UP_SECONDS }, pbx, placement);
    case "svcrack": {
      const [from, to] = spec.passwords.split("-").map(Number) as [number, number];
      // svcrack -u takes one extension: a range's first.
      return createRegisterFlood({ ...flood, mode: "svcrack", extensions: [userSequence(targets(spec.target)).at(0)], giveUpSeconds: GIVE_UP_SECONDS }, pbx, placement, rangeWalk(from, to));
    }
    case "sipp-register": {
      if (isSippOffice(spec)) {
        const office = { ...base, kind: "sipp-office" as const, accounts: spec.target, ratePps: spec.ratePps ?? 10, limit: spec.limit ?? 0, transport: spec.transport ?? ("u1" as const), localPort: port };
        return createSippOffice(spec.count === undefined ? office : { ...office, count: spec.count }, pbx, placement);
      }
      // One registration of one account; a password unlike the account's is a wrong one.
      const wrongPassword = spec.password !== undefined && spec.password !== passwordFor(pbx, spec.target);
      return createPhones({ ...base, kind: "phones", count: 1, accounts: [spec.target], spreadSeconds: 0, expiresSeconds: 3600, wrongPassword }, pbx, { ...placement, basePort: port });
    }
  }
}

/** A tool's target as a user list: "100-299" is a range, "200" one extension. */
function targets(target: string): string | string[] {
  return target.includes("-") ? target : [target];
}
