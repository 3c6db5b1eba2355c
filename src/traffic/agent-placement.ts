import type { HostSpec } from "../scenario/schema.js";
import type { AgentEndpoint } from "./agent.js";
import { publicAddressesOf, type LanAddressPlan } from "./host-addresses.js";

/** Where a source's agents sit: a host, and the LAN plan for NAT offices. */
export interface AgentPlacement {
  readonly hostName: string;
  readonly host: HostSpec;
  readonly lan: LanAddressPlan;
  /** Port the agents bind; several agents on one public address count up from it. */
  readonly basePort: number;
}

/**
 * The endpoint of the index-th agent: behind a NAT each gets its own LAN
 * address and binds the base port (the NAT picks public ports); on public
 * addresses agents take the addresses in turn and share them by port.
 */
export function placeAgent(placement: AgentPlacement, agent: string, index: number, ipv6 = false): AgentEndpoint {
  // A dual-stack office's IPv6 phones: a global address of its prefix each, no NAT.
  if (placement.host.kind === "nat" && ipv6) return { agent, address: placement.lan.next6(placement.hostName), port: placement.basePort };
  if (placement.host.kind === "nat") {
    return { agent, address: placement.lan.next(placement.hostName), port: placement.basePort, behindNat: placement.hostName };
  }
  const addresses = publicAddressesOf(placement.host);
  return { agent, address: addresses[index % addresses.length]!, port: placement.basePort + Math.floor(index / addresses.length) };
}
