import { trafficSourceSchema, type PbxSpec, type TrafficSourceSpec } from "../scenario/schema.js";
import { isSippOffice } from "../scenario/sipp-office-tool.js";
import type { TrafficSource } from "./agent.js";
import type { AgentPlacement } from "./agent-placement.js";
import { passwordFor } from "./passwords.js";
import { createPhones } from "./phones.js";
import { createRegisterFlood, rangeWalk } from "./register-flood.js";
import { createSippOffice } from "./sipp-office.js";

type ToolSpec = Extract<TrafficSourceSpec, { kind: "tool" }>;
type FloodSpec = Extract<TrafficSourceSpec, { kind: "register-flood" }>;

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
  // The register-flood's own defaults (user agent, method, svwar's stop...) are sipvicious's: the schema fills them.
  const flood = (fields: Record<string, unknown>): FloodSpec =>
    trafficSourceSchema.parse({ ...base, kind: "register-flood", ratePps: SIPVICIOUS_PPS, durationSeconds: Math.max(durationSeconds - spec.startSeconds, 0.001), sourcePort: port, addressCount: 1, passwords: [], giveUpSeconds: GIVE_UP_SECONDS, ...fields }) as FloodSpec;
  switch (spec.tool) {
    case "svwar":
      return createRegisterFlood(flood({ mode: "svwar", extensions: spec.target.includes("-") ? spec.target : [spec.target] }), pbx, placement);
    case "svcrack": {
      // One extension (check-scenario refuses a range), its numeric range in order.
      const [from, to] = spec.passwords.split("-").map(Number) as [number, number];
      return createRegisterFlood(flood({ mode: "svcrack", extensions: [spec.target] }), pbx, placement, rangeWalk(from, to));
    }
    case "sipp-register": {
      if (isSippOffice(spec)) {
        const office = { ...base, kind: "sipp-office" as const, accounts: spec.target, ratePps: spec.ratePps ?? 10, limit: spec.limit ?? 0, transport: spec.transport ?? ("u1" as const), localPort: port };
        return createSippOffice(spec.count === undefined ? office : { ...office, count: spec.count }, pbx, placement);
      }
      // One registration of one account; a password unlike the account's is a wrong one.
      const wrongPassword = spec.password !== undefined && spec.password !== passwordFor(pbx, spec.target);
      return createPhones({ ...base, kind: "phones", count: 1, accounts: [spec.target], spreadSeconds: 0, expiresSeconds: 3600, wrongPassword, transport: "udp", ipv6: false }, pbx, { ...placement, basePort: port });
    }
  }
}
