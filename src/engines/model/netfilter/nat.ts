import { parseIpv4 } from "../../../net/address.js";
import { decodeIpv4, rewriteIpv4 } from "../../../net/ipv4.js";
import type { Packet } from "../../../net/packet.js";
import { RulesetError, type TargetSpec } from "../../../firewall/ruleset.js";
import type { Hook } from "./match.js";

/**
 * NAT as nf_nat_core.c does it for the connections slamlab judges: the nat
 * table's chains see only a connection's first packet (nf_nat_inet_fn for
 * IP_CT_NEW before nf_nat_initialized); what they decide is bound to the
 * connection (nf_nat_setup_info changes its reply tuple), and every later
 * packet is rewritten from that binding without the table, in both
 * directions (nf_nat_packet: a reply is un-NATed at the opposite hook).
 */

/** Which end a hook rewrites: destinations before routing (PREROUTING, OUTPUT), sources after (POSTROUTING, INPUT). */
export type ManipType = "src" | "dst";

export function manipTypeOf(hook: Hook): ManipType {
  return hook === "PREROUTING" || hook === "OUTPUT" ? "dst" : "src";
}

export interface NatEndpoint {
  readonly address: number;
  readonly port: number;
}

/** What a NAT target maps to; resolved per packet, since REDIRECT and MASQUERADE take the host's own address. */
export interface NatTarget {
  readonly type: ManipType;
  /** A fixed address, or where the host's own address comes from. */
  readonly address: number | "incoming-interface" | "loopback" | "outgoing-interface";
  /** A fixed port, or null to keep the packet's. */
  readonly port: number | null;
}

/** A connection's NAT: what conntrack holds for the nat table's hooks. */
export interface ConnectionNat {
  /** nf_nat_initialized: the nat table already decided this end for the connection. */
  initialized(type: ManipType): boolean;
  /** nf_nat_setup_info: binds the mapping, or none (the null binding). */
  bind(type: ManipType, to: NatEndpoint | null): void;
  /** Where a packet of the connection is rewritten to at a hook of `type` (reply: the reply direction); null: unchanged. */
  rewrite(type: ManipType, reply: boolean): NatEndpoint | null;
}

const ADDRESS_PORT = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/;

/** --to-destination / --to-source: one address, optionally one port; ranges are refused by name. */
function parseEndpoint(target: TargetSpec, option: string, line: number): { address: number; port: number | null } {
  const text = target.options.find((candidate) => candidate.name === option)!.args[0]!;
  const match = ADDRESS_PORT.exec(text);
  if (!match) {
    throw new RulesetError(
      "RULESET_UNSUPPORTED",
      `-j ${target.kind} --${option} ${text}: the model maps to one address and at most one port (ranges choose by the kernel's tuple hash, which it does not model); run this ruleset with --engine docker`,
      line,
    );
  }
  const port = match[2] === undefined ? null : Number(match[2]);
  if (port !== null && (port < 1 || port > 65535)) throw new RulesetError("RULESET_BAD_OPTION", `-j ${target.kind} --${option} ${text}: ports are 1-65535`, line);
  return { address: parseIpv4(match[1]!), port };
}

function parsePorts(target: TargetSpec, line: number): number | null {
  const text = target.options.find((candidate) => candidate.name === "to-ports")?.args[0];
  if (text === undefined) return null;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new RulesetError("RULESET_UNSUPPORTED", `-j ${target.kind} --to-ports ${text}: the model maps to one port (1-65535); ranges choose by the kernel's tuple hash; run this ruleset with --engine docker`, line);
  }
  return Number(text);
}

/** The mapping of a DNAT, SNAT, MASQUERADE or REDIRECT rule. */
export function compileNatTarget(target: TargetSpec, chain: string, line: number): NatTarget {
  const has = (name: string) => target.options.some((option) => option.name === name);
  if ((target.kind === "SNAT" || target.kind === "MASQUERADE") && (has("random") || has("random-fully"))) {
    throw new RulesetError("RULESET_UNSUPPORTED", `-j ${target.kind} --random: the kernel picks a random source port, which the model does not; run this ruleset with --engine docker`, line);
  }
  switch (target.kind) {
    case "DNAT": {
      const { address, port } = parseEndpoint(target, "to-destination", line);
      return { type: "dst", address, port };
    }
    case "SNAT": {
      const { address, port } = parseEndpoint(target, "to-source", line);
      return { type: "src", address, port };
    }
    case "REDIRECT":
      // nf_nat_redirect_ipv4: OUTPUT goes to loopback, PREROUTING to the incoming interface's first address.
      return { type: "dst", address: chain === "OUTPUT" ? "loopback" : "incoming-interface", port: parsePorts(target, line) };
    case "MASQUERADE":
      return { type: "src", address: "outgoing-interface", port: parsePorts(target, line) };
    default:
      throw new RulesetError("RULESET_UNSUPPORTED", `-j ${target.kind} is not a NAT target`, line);
  }
}

const LOOPBACK = parseIpv4("127.0.0.1");

/**
 * Where `target` maps this packet. The host's own address is the first of
 * `localAddresses` (the PBX's when the firewall runs on it); without one, the
 * packet's own address at that end, which is the host's on its way in or out.
 */
export function resolveNatTarget(target: NatTarget, packet: Packet, localAddresses: readonly number[]): NatEndpoint {
  const own = target.type === "dst" ? packet.dst : packet.src;
  const address = typeof target.address === "number" ? target.address : target.address === "loopback" ? LOOPBACK : (localAddresses[0] ?? own);
  const port = target.port ?? (target.type === "dst" ? packet.dport : packet.sport);
  return { address, port };
}

/** A connection's NAT for one judging without a conntrack table: whatever the nat table decides applies to this packet. */
export function oneShotNat(): ConnectionNat {
  const bound: Partial<Record<ManipType, NatEndpoint | null>> = {};
  return {
    initialized: (type) => type in bound,
    bind: (type, to) => {
      bound[type] = to;
    },
    rewrite: (type, reply) => (reply ? null : (bound[type] ?? null)),
  };
}

/** The packet with one end rewritten, checksums fixed. */
export function natRewrite(packet: Packet, type: ManipType, to: NatEndpoint): Packet {
  if (type === "dst" ? packet.dst === to.address && packet.dport === to.port : packet.src === to.address && packet.sport === to.port) return packet;
  const change = type === "dst" ? { dst: to.address, dport: to.port } : { src: to.address, sport: to.port };
  return decodeIpv4(rewriteIpv4(packet.bytes, change), packet.inInterface);
}
