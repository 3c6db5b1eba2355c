import type { PbxSpec, TrafficSourceSpec } from "../scenario/schema.js";
import { userSequence } from "../scenario/user-list.js";
import type { AgentContext, AgentEndpoint, Datagram, TrafficSource } from "./agent.js";
import { placeAgent, type AgentPlacement } from "./agent-placement.js";
import { passwordFor } from "./passwords.js";
import { Registration } from "./registration.js";
import { SipClient } from "./sip-client.js";

type PhonesSpec = Extract<TrafficSourceSpec, { kind: "phones" }>;

/** Desk phones as an office has them: Yealink firmware's User-Agent, one account each. */
export const PHONE_USER_AGENT = "Yealink SIP-T46S 66.86.0.15";

/**
 * N healthy phones: each registers at start (spread over `spreadSeconds`),
 * answers the challenge, refreshes, and retries after failures.
 */
export function createPhones(spec: PhonesSpec, pbx: PbxSpec, placement: AgentPlacement): TrafficSource {
  const accounts = userSequence(spec.accounts);
  const agents: AgentEndpoint[] = Array.from({ length: spec.count }, (_, index) =>
    placeAgent(placement, `phone-${String(index + 1).padStart(3, "0")}`, index),
  );
  const clients = new Map<string, SipClient>();
  const agentAt = agentLookup(agents);
  return {
    name: spec.name,
    agents,
    start(context: AgentContext) {
      agents.forEach((endpoint, index) => {
        const account = accounts.at(index);
        const password = spec.wrongPassword ? `wrong-${account}` : (passwordFor(pbx, account) ?? `unknown-${account}`);
        const client = new SipClient(endpoint, pbx, context);
        clients.set(endpoint.agent, client);
        const registration = new Registration(client, context, { account, password, expiresSeconds: spec.expiresSeconds, userAgent: PHONE_USER_AGENT });
        const startUs = Math.round((spec.startSeconds + spec.spreadSeconds * context.random()) * 1_000_000);
        context.at(startUs, () => registration.start());
      });
    },
    receive(datagram: Datagram) {
      const agent = agentAt(datagram);
      if (agent) clients.get(agent)?.receive(datagram);
    },
  };
}

/** Finds the agent a datagram is addressed to, by the address and port it is bound to. */
export function agentLookup(agents: readonly AgentEndpoint[]): (datagram: Datagram) => string | undefined {
  const byEndpoint = new Map(agents.map((endpoint) => [`${endpoint.address}:${endpoint.port}`, endpoint.agent]));
  return (datagram) => byEndpoint.get(`${datagram.dst}:${datagram.dport}`);
}
