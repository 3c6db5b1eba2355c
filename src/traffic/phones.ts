import type { PbxSpec, TrafficSourceSpec, UserList } from "../scenario/schema.js";
import { pbxAddressFor } from "./host-addresses.js";
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
  const { agents, credentialsOf } = deskPhones(spec, pbx, placement, "phone");
  const clients = new Map<string, SipClient>();
  const agentAt = agentLookup(agents);
  return {
    name: spec.name,
    agents,
    start(context: AgentContext) {
      agents.forEach((endpoint, index) => {
        const { account, password } = credentialsOf(index);
        // Over TLS a phone connects to PJSIP's TLS transport.
        const client = new SipClient(endpoint, { address: pbxAddressFor(pbx, endpoint.address), port: spec.transport === "tls" ? pbx.tlsPort : pbx.port }, context, spec.transport);
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

/**
 * An office's phones, SIP or IAX2: an agent each ("phone-001", ...), placed
 * on the host, and the account each uses in order with its password (a
 * wrong one when the spec says so, for tests).
 */
export function deskPhones(
  spec: { readonly count: number; readonly accounts: UserList; readonly wrongPassword: boolean; readonly ipv6?: boolean },
  pbx: PbxSpec,
  placement: AgentPlacement,
  prefix: string,
): { agents: AgentEndpoint[]; credentialsOf: (index: number) => { account: string; password: string } } {
  const accounts = userSequence(spec.accounts);
  const agents = Array.from({ length: spec.count }, (_, index) => placeAgent(placement, `${prefix}-${String(index + 1).padStart(3, "0")}`, index, spec.ipv6 === true));
  const credentialsOf = (index: number) => {
    const account = accounts.at(index);
    return { account, password: spec.wrongPassword ? `wrong-${account}` : (passwordFor(pbx, account) ?? `unknown-${account}`) };
  };
  return { agents, credentialsOf };
}

/** Finds the agent a datagram is addressed to, by the address and port it is bound to. */
export function agentLookup(agents: readonly AgentEndpoint[]): (datagram: Datagram) => string | undefined {
  const byEndpoint = new Map(agents.map((endpoint) => [`${endpoint.address}:${endpoint.port}`, endpoint.agent]));
  return (datagram) => byEndpoint.get(`${datagram.dst}:${datagram.dport}`);
}
