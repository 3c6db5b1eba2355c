import { cidrHost, formatIpv4, parseCidr } from "../net/address.js";
import { formatIpv6, ipv6CidrHost, parseIpv6, parseIpv6Cidr } from "../net/ipv6-address.js";
import type { HostSpec } from "../scenario/schema.js";

/**
 * The machine a host's agents run on in the docker lab: a NAT office has
 * its own LAN, every other host shares the WAN's. A program that binds a
 * port on every address (sipvicious does) holds it for the whole machine.
 */
export function labMachineOf(hostName: string, host: HostSpec | undefined): string {
  return host?.kind === "nat" ? hostName : "wan";
}

/** The public addresses a host sends from, in order. */
export function publicAddressesOf(host: HostSpec): string[] {
  switch (host.kind) {
    case "addresses":
      // IPv6 as RFC 5952 prints it, so the text an agent sends from is the text its packets' verdicts carry.
      return host.addresses.map((address) => (address.includes(":") ? formatIpv6(parseIpv6(address)) : address));
    case "range": {
      if (host.cidr.includes(":")) {
        const prefix = parseIpv6Cidr(host.cidr);
        return Array.from({ length: host.count }, (_, index) => formatIpv6(ipv6CidrHost(prefix, index + 1)));
      }
      const cidr = parseCidr(host.cidr);
      // Offset 0 is the network address; hosts start at .1.
      return Array.from({ length: host.count }, (_, index) => formatIpv4(cidrHost(cidr, index + 1)));
    }
    case "nat":
      return [host.public];
  }
}

/** The PBX address a source at `address` sends to: its IPv6 address for an IPv6 source (check-scenario makes sure it has one). */
export function pbxAddressFor(pbx: { readonly address: string; readonly address6?: string | undefined }, address: string): string {
  return address.includes(":") ? (pbx.address6 ?? pbx.address) : pbx.address;
}

/** How many public addresses a host sends from, without listing them (a range may not fit its CIDR). */
export function publicAddressCount(host: HostSpec): number {
  if (host.kind === "addresses") return host.addresses.length;
  if (host.kind === "range") return host.count;
  return 1;
}

/** How many addresses a range host needs that its CIDR does not have (0 when it fits). */
export function rangeShortfall(host: Extract<HostSpec, { kind: "range" }>): number {
  const size = host.cidr.includes(":") ? 2 ** Math.min(52, 128 - parseIpv6Cidr(host.cidr).prefixLength) - 1 : 2 ** (32 - parseCidr(host.cidr).prefixLength) - 1;
  return Math.max(0, host.count - size);
}

/**
 * Hands out LAN addresses behind each office NAT, so every phone of every
 * source in the office has its own (.1-.9 are left for the router and servers).
 */
export class LanAddressPlan {
  private readonly used = new Map<string, number>();
  private readonly used6 = new Map<string, number>();

  constructor(private readonly hosts: Readonly<Record<string, HostSpec>>) {}

  next(hostName: string): string {
    const host = this.hosts[hostName];
    if (host?.kind !== "nat") throw new Error(`host ${hostName} is not a NAT office`);
    const offset = 10 + (this.used.get(hostName) ?? 0);
    this.used.set(hostName, offset - 9);
    return formatIpv4(cidrHost(parseCidr(host.lan), offset));
  }

  /** The next global IPv6 address in a dual-stack office's lan6 (from ::10 up, as IPv4's from .10). */
  next6(hostName: string): string {
    const host = this.hosts[hostName];
    if (host?.kind !== "nat" || host.lan6 === undefined) throw new Error(`host ${hostName} is not a dual-stack NAT office`);
    const offset = 0x10 + (this.used6.get(hostName) ?? 0);
    this.used6.set(hostName, offset - 0x0f);
    return formatIpv6(ipv6CidrHost(parseIpv6Cidr(host.lan6), offset));
  }
}
