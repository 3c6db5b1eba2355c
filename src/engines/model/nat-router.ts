import { parseIpv4 } from "../../net/address.js";
import type { HostSpec } from "../../scenario/schema.js";
import { randomInt, type Random } from "../../traffic/random.js";

/**
 * The masquerading router in front of an office LAN. Like Linux MASQUERADE it
 * keeps a phone's source port when that public port is still free and
 * otherwise picks a random one in 1024-65535 (nf_nat_l4proto_unique_tuple with
 * a random offset, net/netfilter/nf_nat_proto.c). Mappings live for the whole
 * run: phones refresh well inside the NAT's UDP timeout.
 */
export class NatRouter {
  readonly publicAddress: string;
  private readonly publicNumber: number;
  private readonly outbound = new Map<string, number>();
  private readonly inbound = new Map<number, { address: string; port: number }>();

  constructor(
    host: Extract<HostSpec, { kind: "nat" }>,
    private readonly random: Random,
  ) {
    this.publicAddress = host.public;
    this.publicNumber = parseIpv4(host.public);
  }

  /** Public port for a LAN endpoint, allocating on first use. */
  translateOutbound(lanAddress: string, lanPort: number): number {
    const key = `${lanAddress}:${lanPort}`;
    const known = this.outbound.get(key);
    if (known !== undefined) return known;
    let port = lanPort;
    while (this.inbound.has(port)) port = randomInt(this.random, 1024, 65535);
    this.outbound.set(key, port);
    this.inbound.set(port, { address: lanAddress, port: lanPort });
    return port;
  }

  /** The LAN endpoint a reply to the public port belongs to, if the NAT has a mapping. */
  translateInbound(publicPort: number): { address: string; port: number } | undefined {
    return this.inbound.get(publicPort);
  }

  get publicAddressNumber(): number {
    return this.publicNumber;
  }
}
