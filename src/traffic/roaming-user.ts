import type { PbxSpec, TrafficSourceSpec } from "../scenario/schema.js";
import type { AgentContext, Datagram, TrafficSource } from "./agent.js";
import type { AgentPlacement } from "./agent-placement.js";
import { publicAddressesOf } from "./host-addresses.js";
import { passwordFor } from "./passwords.js";
import { Registration } from "./registration.js";
import { SipClient } from "./sip-client.js";

type RoamingSpec = Extract<TrafficSourceSpec, { kind: "roaming-user" }>;

/** A softphone on a laptop: SIP port 5060, and a new public address every `moveEverySeconds`. */
export function createRoamingUser(spec: RoamingSpec, pbx: PbxSpec, placement: AgentPlacement): TrafficSource {
  const addresses = publicAddressesOf(placement.host);
  const agent = spec.account;
  const port = placement.basePort;
  const clients = new Map<string, SipClient>();
  return {
    name: spec.name,
    // One agent that moves: it is listed once per address so replies find it wherever it is.
    agents: addresses.map((address) => ({ agent, address, port })),
    start(context: AgentContext) {
      const password = passwordFor(pbx, spec.account) ?? `unknown-${spec.account}`;
      let current: Registration | undefined;
      const moveTo = (index: number) => {
        current?.stop();
        const address = addresses[index % addresses.length]!;
        const client = clients.get(address) ?? new SipClient({ agent, address, port }, pbx, context);
        clients.set(address, client);
        current = new Registration(client, context, { account: spec.account, password, expiresSeconds: spec.expiresSeconds, userAgent: "Zoiper rv2.10.20.1" });
        current.start();
        context.at(context.now() + Math.round(spec.moveEverySeconds * 1_000_000), () => moveTo(index + 1));
      };
      context.at(Math.round(spec.startSeconds * 1_000_000), () => moveTo(0));
    },
    receive(datagram: Datagram) {
      clients.get(datagram.dst)?.receive(datagram);
    },
  };
}
