import type { PbxSpec, TrafficSourceSpec } from "../scenario/schema.js";
import type { AgentContext, Datagram, TrafficSource } from "./agent.js";
import { placeAgent, type AgentPlacement } from "./agent-placement.js";
import { Registration } from "./registration.js";
import { SipClient } from "./sip-client.js";

type BrokenPhoneSpec = Extract<TrafficSourceSpec, { kind: "broken-phone" }>;

/**
 * A phone configured with a wrong password that never gives up: REGISTER,
 * 401, REGISTER with bad credentials, 401, and again after `intervalSeconds`
 * (the reference post's Snom, twice a second). When the firewall drops it,
 * it retransmits per Timer E like any phone and starts over after Timer F.
 */
export function createBrokenPhone(spec: BrokenPhoneSpec, pbx: PbxSpec, placement: AgentPlacement): TrafficSource {
  const endpoint = placeAgent(placement, "phone", 0);
  let client: SipClient | undefined;
  return {
    name: spec.name,
    agents: [endpoint],
    start(context: AgentContext) {
      client = new SipClient(endpoint, pbx, context);
      const registration = new Registration(client, context, {
        account: spec.account,
        password: `not-the-password-of-${spec.account}`,
        expiresSeconds: 3600,
        userAgent: "snom360/8.7.3.25",
        fixedRetrySeconds: spec.intervalSeconds,
      });
      const startUs = Math.round(spec.startSeconds * 1_000_000);
      context.at(startUs, () => registration.start());
      context.at(startUs + Math.round(spec.durationSeconds * 1_000_000), () => registration.stop());
    },
    receive(datagram: Datagram) {
      client?.receive(datagram);
    },
  };
}
