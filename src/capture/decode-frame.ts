import { formatIpv6 } from "../net/ipv6-address.js";
import { formatAddress } from "../net/address-number.js";
import type { CapturedFrame } from "./captured-frame.js";
import { LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_LOOP, LINKTYPE_NFLOG, LINKTYPE_NULL, isRawIp } from "./link-types.js";
import { nflogRecord } from "./nflog.js";

/** A frame decoded down to the transport layer. */
export interface DecodedPacket {
  readonly frame: CapturedFrame;
  readonly ipVersion: 4 | 6;
  /** The IP datagram from its header on, as captured (IPv4: what netfilter sees). */
  readonly ip: Uint8Array;
  readonly src: string;
  readonly dst: string;
  readonly protocol: number;
  readonly ttl: number;
  /** 0 when there is no transport header here (a non-first fragment). */
  readonly sport: number;
  readonly dport: number;
  /** Where the transport header (or a tunnel's payload) starts in `ip`. */
  readonly transportOffset: number;
  /** Transport payload (the SIP text), empty for non-first fragments. */
  readonly payload: Uint8Array;
  /** IPv4 fragmentation: identification, offset in bytes, more-fragments. */
  readonly fragment: { readonly id: number; readonly offset: number; readonly more: boolean } | null;
}

/** Why a frame has no IP packet slamlab can use (counted by callers). */
export type UndecodableReason = "not IP" | "truncated link header" | "truncated IP header" | "bad IP header" | "GRE not carrying IP" | "MPLS not carrying IP" | "tunnels nested too deep";

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = [0x8100, 0x88a8, 0x9100];
const ETHERTYPE_MPLS = [0x8847, 0x8848];
/** GRE's transparent Ethernet bridging: an Ethernet frame inside. */
const ETHERTYPE_TEB = 0x6558;
const IPPROTO_IPIP = 4;
const IPPROTO_IPV6 = 41;
const IPPROTO_GRE = 47;
/** Tunnels inside tunnels decoded before giving up: real captures nest one or two. */
const MAX_TUNNEL_DEPTH = 4;

/** The network-layer start and protocol family of a frame, by its link type. */
function networkLayer(frame: CapturedFrame): { offset: number; family: 4 | 6 | null } | UndecodableReason {
  const data = frame.data;
  const type = frame.linkType;
  if (isRawIp(type) || type === LINKTYPE_IPV4 || type === LINKTYPE_IPV6) {
    if (data.length < 1) return "truncated IP header";
    const version = data[0]! >> 4;
    return { offset: 0, family: version === 4 ? 4 : version === 6 ? 6 : null };
  }
  const etherFamily = (etherType: number) => (etherType === ETHERTYPE_IPV4 ? 4 : etherType === ETHERTYPE_IPV6 ? 6 : null);
  switch (type) {
    case LINKTYPE_ETHERNET: {
      let at = 12;
      if (data.length < 14) return "truncated link header";
      let etherType = (data[at]! << 8) | data[at + 1]!;
      while (ETHERTYPE_VLAN.includes(etherType)) {
        at += 4;
        if (data.length < at + 2) return "truncated link header";
        etherType = (data[at]! << 8) | data[at + 1]!;
      }
      if (ETHERTYPE_MPLS.includes(etherType)) return mplsPayload(data, at + 2);
      return { offset: at + 2, family: etherFamily(etherType) };
    }
    case LINKTYPE_LINUX_SLL:
      if (data.length < 16) return "truncated link header";
      return { offset: 16, family: etherFamily((data[14]! << 8) | data[15]!) };
    case LINKTYPE_LINUX_SLL2:
      if (data.length < 20) return "truncated link header";
      return { offset: 20, family: etherFamily((data[0]! << 8) | data[1]!) };
    case LINKTYPE_NFLOG: {
      const record = nflogRecord(data);
      if (!record || record.payloadOffset < 0) return "truncated link header";
      // AF_INET, AF_INET6; a netdev chain's record (NFPROTO_NETDEV) is told by its ethertype.
      const family = record.family === 2 || record.hwProtocol === ETHERTYPE_IPV4 ? 4 : record.family === 10 || record.hwProtocol === ETHERTYPE_IPV6 ? 6 : null;
      return { offset: record.payloadOffset, family };
    }
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      if (data.length < 4) return "truncated link header";
      // NULL stores the address family in the writer's byte order; LOOP in network order.
      const big = (data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!;
      const little = data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24);
      const family = type === LINKTYPE_LOOP ? big : little < 256 ? little : big;
      return { offset: 4, family: family === 2 ? 4 : [10, 24, 28, 30].includes(family) ? 6 : null };
    }
    default:
      return "not IP";
  }
}

/** An MPLS label stack from `at`: the labels up to bottom of stack, then IP by its version nibble (no control word). */
function mplsPayload(data: Uint8Array, at: number): { offset: number; family: 4 | 6 | null } | UndecodableReason {
  for (;;) {
    if (data.length < at + 4) return "truncated link header";
    const bottom = (data[at + 2]! & 0x01) === 1;
    at += 4;
    if (bottom) break;
  }
  if (data.length < at + 1) return "truncated link header";
  const version = data[at]! >> 4;
  return version === 4 ? { offset: at, family: 4 } : version === 6 ? { offset: at, family: 6 } : "MPLS not carrying IP";
}

/**
 * A frame decoded to its transport layer. A tunnel (IP in IP, IPv6 in IPv4,
 * GRE, MPLS) is decoded to the packet it carries: what the PBX gets once the
 * tunnel ends, and what slamlab counts and replays.
 */
export function decodeFrame(frame: CapturedFrame): DecodedPacket | UndecodableReason {
  const layer = networkLayer(frame);
  if (typeof layer === "string") return layer;
  if (layer.family === null) return "not IP";
  const ip = frame.data.subarray(layer.offset);
  return decodeDatagram(frame, ip, layer.family, 0);
}

function decodeDatagram(frame: CapturedFrame, ip: Uint8Array, family: 4 | 6, depth: number): DecodedPacket | UndecodableReason {
  const packet = family === 4 ? decodeIpv4Datagram(frame, ip) : decodeIpv6Datagram(frame, ip);
  if (typeof packet === "string" || packet.fragment !== null) return packet;
  const inner = tunnelled(packet);
  if (inner === null) return packet;
  if (typeof inner === "string") return inner;
  if (depth + 1 >= MAX_TUNNEL_DEPTH) return "tunnels nested too deep";
  return decodeDatagram(frame, inner.ip, inner.family, depth + 1);
}

/** What a tunnel packet carries: null when it is no tunnel slamlab opens. */
function tunnelled(packet: DecodedPacket): { ip: Uint8Array; family: 4 | 6 } | UndecodableReason | null {
  const body = packet.ip.subarray(packet.transportOffset);
  if (packet.protocol === IPPROTO_IPIP) return { ip: body, family: 4 };
  if (packet.protocol === IPPROTO_IPV6) return { ip: body, family: 6 };
  if (packet.protocol !== IPPROTO_GRE) return null;
  // RFC 2784/2890: flags (checksum, key, sequence present), version 0, then the protocol type.
  if (body.length < 4 || (body[1]! & 0x07) !== 0) return "GRE not carrying IP";
  const at = 4 + ((body[0]! & 0x80) !== 0 ? 4 : 0) + ((body[0]! & 0x20) !== 0 ? 4 : 0) + ((body[0]! & 0x10) !== 0 ? 4 : 0);
  const protocolType = (body[2]! << 8) | body[3]!;
  if (protocolType === ETHERTYPE_IPV4) return { ip: body.subarray(at), family: 4 };
  if (protocolType === ETHERTYPE_IPV6) return { ip: body.subarray(at), family: 6 };
  if (protocolType === ETHERTYPE_TEB && body.length >= at + 14) {
    const etherType = (body[at + 12]! << 8) | body[at + 13]!;
    if (etherType === ETHERTYPE_IPV4) return { ip: body.subarray(at + 14), family: 4 };
    if (etherType === ETHERTYPE_IPV6) return { ip: body.subarray(at + 14), family: 6 };
  }
  return "GRE not carrying IP";
}

/** Whether a transport header starting at `at` has ports slamlab reads (UDP, TCP) and is there to read. */
function hasPorts(ip: Uint8Array, at: number, protocol: number): boolean {
  return (protocol === 17 || protocol === 6) && ip.length >= at + 4;
}

/** The 16-bit port at `at` (sport at the header's start, dport 2 bytes on). */
function portAt(ip: Uint8Array, at: number): number {
  return (ip[at]! << 8) | ip[at + 1]!;
}

/** Where the transport payload starts: after UDP's 8 bytes or TCP's data offset, at most the datagram's end. */
function payloadStartOf(ip: Uint8Array, at: number, protocol: number): number {
  const headerLength = protocol === 17 ? 8 : ip.length >= at + 13 ? (ip[at + 12]! >> 4) * 4 : 20;
  return Math.min(at + headerLength, ip.length);
}

function decodeIpv4Datagram(frame: CapturedFrame, captured: Uint8Array): DecodedPacket | UndecodableReason {
  if (captured.length < 20) return "truncated IP header";
  // The link layer said IPv4; the kernel drops a header whose version says otherwise (ip_rcv_core).
  if (captured[0]! >> 4 !== 4) return "bad IP header";
  const headerLength = (captured[0]! & 0x0f) * 4;
  const totalLength = (captured[2]! << 8) | captured[3]!;
  if (headerLength < 20 || totalLength < headerLength) return "bad IP header";
  // Ethernet pads short frames: the datagram ends at its total length, not at the frame's end (a view made only then).
  const ip = totalLength < captured.length ? captured.subarray(0, totalLength) : captured;
  if (ip.length < headerLength) return "truncated IP header";
  const protocol = ip[9]!;
  const flags = (ip[6]! << 8) | ip[7]!;
  const fragmentOffset = (flags & 0x1fff) * 8;
  const more = (flags & 0x2000) !== 0;
  // One string per address (a bounded cache), not one per packet: the counts keyed by address hash it once.
  const src = formatAddress(((ip[12]! << 24) | (ip[13]! << 16) | (ip[14]! << 8) | ip[15]!) >>> 0);
  const dst = formatAddress(((ip[16]! << 24) | (ip[17]! << 16) | (ip[18]! << 8) | ip[19]!) >>> 0);
  // Read in place, no object a packet: a later fragment has no transport header.
  const ported = fragmentOffset === 0 && hasPorts(ip, headerLength, protocol);
  return {
    frame,
    ipVersion: 4,
    ip,
    src,
    dst,
    protocol,
    ttl: ip[8]!,
    sport: ported ? portAt(ip, headerLength) : 0,
    dport: ported ? portAt(ip, headerLength + 2) : 0,
    transportOffset: headerLength,
    payload: ip.subarray(ported ? payloadStartOf(ip, headerLength, protocol) : ip.length),
    fragment: fragmentOffset !== 0 || more ? { id: (ip[4]! << 8) | ip[5]!, offset: fragmentOffset, more } : null,
  };
}

const IPV6_EXTENSIONS = new Set([0, 43, 60, 51]);

function decodeIpv6Datagram(frame: CapturedFrame, captured: Uint8Array): DecodedPacket | UndecodableReason {
  if (captured.length < 40) return "truncated IP header";
  // As for IPv4: ipv6_rcv drops a header whose version says otherwise.
  if (captured[0]! >> 4 !== 6) return "bad IP header";
  const payloadLength = (captured[4]! << 8) | captured[5]!;
  const ip = captured.subarray(0, Math.min(40 + payloadLength, captured.length));
  let next = ip[6]!;
  let at = 40;
  let fragment: DecodedPacket["fragment"] = null;
  while ((IPV6_EXTENSIONS.has(next) || next === 44) && at + 8 <= ip.length) {
    if (next === 44) {
      const offsetField = (ip[at + 2]! << 8) | ip[at + 3]!;
      fragment = { id: ((ip[at + 4]! << 24) | (ip[at + 5]! << 16) | (ip[at + 6]! << 8) | ip[at + 7]!) >>> 0, offset: offsetField & 0xfff8, more: (offsetField & 1) === 1 };
      next = ip[at]!;
      at += 8;
      if (fragment.offset !== 0) break;
      continue;
    }
    const length = next === 51 ? (ip[at + 1]! + 2) * 4 : (ip[at + 1]! + 1) * 8;
    next = ip[at]!;
    at += length;
  }
  const ported = !(fragment && fragment.offset !== 0) && hasPorts(ip, at, next);
  return {
    frame,
    ipVersion: 6,
    ip,
    src: formatIpv6(ip.subarray(8, 24)),
    dst: formatIpv6(ip.subarray(24, 40)),
    protocol: next,
    ttl: ip[7]!,
    sport: ported ? portAt(ip, at) : 0,
    dport: ported ? portAt(ip, at + 2) : 0,
    transportOffset: Math.min(at, ip.length),
    payload: ip.subarray(ported ? payloadStartOf(ip, at, next) : ip.length),
    fragment,
  };
}
