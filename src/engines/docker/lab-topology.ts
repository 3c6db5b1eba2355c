import { cidrContains, cidrHost, formatIpv4, parseCidr, parseIpv4, prefixMask } from "../../net/address.js";
import type { Scenario } from "../../scenario/scenario.js";
import type { AgentEndpoint } from "../../traffic/agent.js";
import { EngineUnavailableError } from "../engine.js";
import { formatIpv6, ipv6CidrContains, ipv6CidrHost, maskIpv6, parseIpv6, parseIpv6Cidr } from "../../net/ipv6-address.js";

/**
 * The docker lab's address plan. Scenario hosts keep their addresses; the
 * lab's own hosts (router, runners, Docker's gateways) live in ranges kept
 * for them: 198.19.255.0/24 on the WAN, the top /27 of the PBX's /24 and of
 * every office LAN.
 */
export const WAN = { cidr: "198.18.0.0/15", reserved: "198.19.255.0/24", gateway: "198.19.255.254", router: "198.19.255.1", runner: "198.19.255.2", prefixLength: 15 };

export interface NetworkPlan {
  readonly key: string;
  readonly subnet: string;
  readonly ipRange: string;
  readonly gateway: string;
}

/**
 * IPv6 beside IPv4 on the same networks, when the scenario sends over IPv6:
 * the router's WAN end in a /64 kept for the lab, on-link routes to every
 * lab prefix there (each runner answers neighbour solicitation for its own
 * addresses), and the PBX's /64 on the DMZ with the router at its top.
 */
export const WAN6 = { prefix: "2001:db8:ffff:ffff::/64", router: "2001:db8:ffff:ffff::1", runner: "2001:db8:ffff:ffff::2", onLink: ["2001:db8::/32", "2001:2::/48"] };

export interface Ipv6Plan {
  /** The PBX's address (RFC 5952) and its /64, the DMZ's IPv6 network. */
  readonly pbx: string;
  readonly dmzPrefix: string;
  /** The router's address in the DMZ's /64: its last but one. */
  readonly dmzRouter: string;
}

/** A dual-stack office's IPv6: its prefix, routed (not NATed) by its router, which has a WAN address in the lab's kept /64. */
export interface OfficeIpv6Plan {
  readonly prefix: string;
  readonly prefixLength: number;
  /** The office router's address in its prefix (::1), the phones' default route. */
  readonly routerLan: string;
  /** Its address on the WAN (in WAN6.prefix), where the lab's router sends the prefix. */
  readonly routerWan: string;
}

export interface LabTopology {
  readonly ipv6?: Ipv6Plan;
  readonly wan: NetworkPlan;
  readonly dmz: NetworkPlan & { readonly router: string; readonly prefixLength: number };
  readonly offices: ReadonlyArray<NetworkPlan & { readonly host: string; readonly publicAddress: string; readonly routerLan: string; readonly prefixLength: number; readonly runner: string; readonly ipv6?: OfficeIpv6Plan }>;
}

function topOf(cidrText: string, prefixLength: number): { subnet: string; reserved: string; gateway: string; second: string; third: string } {
  const cidr = parseCidr(cidrText);
  const size = 2 ** (32 - prefixLength);
  const reservedSize = Math.min(32, size / 8);
  const last = cidr.network + size - 1;
  return {
    subnet: `${formatIpv4(cidr.network)}/${prefixLength}`,
    reserved: `${formatIpv4(last - reservedSize + 1)}/${32 - Math.log2(reservedSize)}`,
    gateway: formatIpv4(last - 1),
    second: formatIpv4(last - 2),
    third: formatIpv4(last - 3),
  };
}

export function planTopology(scenario: Scenario, endpoints: readonly AgentEndpoint[]): LabTopology {
  const pbx = parseIpv4(scenario.pbx.address);
  const dmzCidr = `${formatIpv4((pbx & prefixMask(24)) >>> 0)}/24`;
  const dmz = topOf(dmzCidr, 24);
  const offices = Object.entries(scenario.hosts).flatMap(([host, spec], index) => {
    if (spec.kind !== "nat") return [];
    const lan = parseCidr(spec.lan);
    const top = topOf(spec.lan, lan.prefixLength);
    const lan6 = spec.lan6 === undefined || !endpoints.some((endpoint) => endpoint.address.includes(":") && ipv6CidrContains(parseIpv6Cidr(spec.lan6!), parseIpv6Cidr(endpoint.address))) ? undefined : parseIpv6Cidr(spec.lan6);
    const ipv6: OfficeIpv6Plan | undefined = lan6
      ? { prefix: `${formatIpv6(lan6.network)}/${lan6.prefixLength}`, prefixLength: lan6.prefixLength, routerLan: formatIpv6(ipv6CidrHost(lan6, 1)), routerWan: formatIpv6(ipv6CidrHost(parseIpv6Cidr(WAN6.prefix), 0x100 + index)) }
      : undefined;
    return [{ key: `lan-${host}`, host, subnet: top.subnet, ipRange: top.reserved, gateway: top.gateway, publicAddress: spec.public, routerLan: formatIpv4(cidrHost(lan, 1)), prefixLength: lan.prefixLength, runner: top.second, ...(ipv6 ? { ipv6 } : {}) }];
  });
  const pbx6 = scenario.pbx.address6 === undefined ? undefined : parseIpv6(scenario.pbx.address6);
  const sendsIpv6 = endpoints.some((endpoint) => endpoint.address.includes(":"));
  const ipv6: Ipv6Plan | undefined =
    pbx6 && sendsIpv6
      ? {
          pbx: formatIpv6(pbx6),
          dmzPrefix: `${formatIpv6(maskIpv6(pbx6, 64))}/64`,
          dmzRouter: formatIpv6(Uint8Array.from([...maskIpv6(pbx6, 64).subarray(0, 8), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe])),
        }
      : undefined;
  const topology: LabTopology = {
    ...(ipv6 ? { ipv6 } : {}),
    wan: { key: "wan", subnet: WAN.cidr, ipRange: WAN.reserved, gateway: WAN.gateway },
    dmz: { key: "dmz", subnet: dmz.subnet, ipRange: dmz.reserved, gateway: dmz.gateway, router: dmz.second, prefixLength: 24 },
    offices,
  };
  checkAddresses(scenario, endpoints, topology);
  return topology;
}

/** Scenario addresses the lab cannot give out: in the kept ranges, or outside every lab network. */
function checkAddresses(scenario: Scenario, endpoints: readonly AgentEndpoint[], topology: LabTopology): void {
  const problems: string[] = [];
  const reserved = [topology.wan.ipRange, topology.dmz.ipRange, ...topology.offices.map((office) => office.ipRange)].map((text) => parseCidr(text));
  const subnets = [topology.wan, ...topology.offices].map((plan) => parseCidr(plan.subnet));
  const seen = new Set<string>();
  const lanSubnets = new Set<string>();
  for (const office of topology.offices) {
    if (lanSubnets.has(office.subnet)) problems.push(`two NAT offices use ${office.subnet}; the docker lab needs a LAN of its own per office`);
    lanSubnets.add(office.subnet);
  }
  const kept6 = parseIpv6Cidr(WAN6.prefix);
  const dmz6 = topology.ipv6 ? parseIpv6Cidr(topology.ipv6.dmzPrefix) : undefined;
  for (const endpoint of endpoints) {
    if (seen.has(endpoint.address)) continue;
    seen.add(endpoint.address);
    if (endpoint.address.includes(":")) {
      const address = parseIpv6Cidr(endpoint.address);
      if (ipv6CidrContains(kept6, address)) problems.push(`${endpoint.address} (${endpoint.agent}) is in ${WAN6.prefix}, which the docker lab keeps for its own hosts`);
      else if (dmz6 && ipv6CidrContains(dmz6, address)) problems.push(`${endpoint.address} (${endpoint.agent}) is in the PBX's /64 ${topology.ipv6!.dmzPrefix}, the lab's DMZ: give the host addresses in another /64`);
      continue;
    }
    const address = parseIpv4(endpoint.address);
    if (reserved.some((cidr) => cidrContains(cidr, address))) problems.push(`${endpoint.address} (${endpoint.agent}) is in a range the docker lab keeps for its own hosts`);
    else if (!subnets.some((cidr) => cidrContains(cidr, address))) problems.push(`${endpoint.address} (${endpoint.agent}) is outside the lab's WAN ${WAN.cidr} and office LANs`);
  }
  if (cidrContains(parseCidr(topology.dmz.ipRange), parseIpv4(scenario.pbx.address))) problems.push(`the PBX address ${scenario.pbx.address} is in ${topology.dmz.ipRange}, kept for the lab's router`);
  if (topology.ipv6 && topology.ipv6.pbx === topology.ipv6.dmzRouter) problems.push(`the PBX address ${topology.ipv6.pbx} is the one the lab's router takes in its /64`);
  if (problems.length) {
    throw new EngineUnavailableError("DOCKER_ADDRESSES", `the docker engine cannot lay out this scenario's addresses:\n  ${problems.slice(0, 10).join("\n  ")}\nkeep ${WAN.reserved} and the top /27 of the PBX's /24 and of each office LAN free`);
  }
}
