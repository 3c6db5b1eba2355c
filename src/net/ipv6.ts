import { ipv6BytesOf, ipv6Number } from "./address-number.js";
import { internetChecksum, IPPROTO_TCP, IPPROTO_UDP, PacketError, decodeIpv4 } from "./ipv4.js";
import type { Packet } from "./packet.js";

/**
 * IPv6 + UDP encoding and decoding, as ip6tables sees a datagram: the 40-byte
 * header, extension headers skipped to the upper-layer protocol (ipv6_find_hdr,
 * which ip6_packet_match uses for -p), the fragment header's offset read.
 * Addresses are the numbers of address-number.ts.
 */

export const NEXTHDR_FRAGMENT = 44;
const EXTENSION_HEADERS = new Set([0, 43, 60]);
const NEXTHDR_AUTH = 51;
const NEXTHDR_ROUTING = 43;
/** The extension headers sized in 8-byte units besides routing: hop-by-hop and destination options. */
const OPTION_HEADERS: ReadonlySet<number> = new Set([0, 60]);

export interface Udp6DatagramSpec {
  /** IPv6 numbers (address-number.ts). */
  src: number;
  dst: number;
  sport: number;
  dport: number;
  payload: Uint8Array;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
}

/** Builds an IPv6/UDP datagram with its (mandatory, RFC 8200 8.1) UDP checksum. */
export function encodeIpv6Udp(spec: Udp6DatagramSpec): Uint8Array {
  const udpLength = 8 + spec.payload.length;
  if (udpLength > 65535) throw new PacketError(`UDP datagram of ${udpLength} bytes exceeds 65535 (no jumbograms)`);
  const bytes = new Uint8Array(40 + udpLength);
  const view = new DataView(bytes.buffer);
  const trafficClass = spec.trafficClass ?? 0;
  view.setUint32(0, ((6 << 28) | (trafficClass << 20) | ((spec.flowLabel ?? 0) & 0xfffff)) >>> 0);
  view.setUint16(4, udpLength);
  bytes[6] = IPPROTO_UDP;
  bytes[7] = spec.hopLimit ?? 64;
  bytes.set(ipv6BytesOf(spec.src), 8);
  bytes.set(ipv6BytesOf(spec.dst), 24);
  view.setUint16(40, spec.sport);
  view.setUint16(42, spec.dport);
  view.setUint16(44, udpLength);
  bytes.set(spec.payload, 48);
  view.setUint16(46, upperLayerChecksum(bytes, 40, udpLength, IPPROTO_UDP));
  return bytes;
}

/** RFC 8200 8.1: the checksum over the upper-layer packet and a pseudo-header of both addresses, its length and next header. */
export function upperLayerChecksum(bytes: Uint8Array, start: number, length: number, nextHeader: number): number {
  let pseudo = length + nextHeader;
  for (let i = 8; i < 40; i += 2) pseudo += (bytes[i]! << 8) | bytes[i + 1]!;
  const sum = internetChecksum(bytes, start, length, pseudo);
  return nextHeader === IPPROTO_UDP && sum === 0 ? 0xffff : sum;
}

/** Reads the fields the firewall looks at from a whole IPv6 datagram. */
export function decodeIpv6(bytes: Uint8Array, inInterface = "eth0"): Packet {
  if (bytes.length < 40) throw new PacketError(`IPv6 datagram of ${bytes.length} bytes is shorter than its 40-byte header`);
  if (bytes[0]! >> 4 !== 6) throw new PacketError(`IP version ${bytes[0]! >> 4} is not 6`);
  let next = bytes[6]!;
  let at = 40;
  let fragmentOffset = 0;
  let moreFragments = false;
  while (at + 8 <= bytes.length) {
    if (next === NEXTHDR_FRAGMENT) {
      const field = (bytes[at + 2]! << 8) | bytes[at + 3]!;
      fragmentOffset = field & 0xfff8;
      moreFragments = (field & 1) === 1;
      next = bytes[at]!;
      at += 8;
      // A later fragment holds no upper-layer header: ipv6_find_hdr stops at the fragment header.
      if (fragmentOffset !== 0) break;
    } else if (EXTENSION_HEADERS.has(next)) {
      const length = (bytes[at + 1]! + 1) * 8;
      next = bytes[at]!;
      at += length;
    } else if (next === NEXTHDR_AUTH) {
      const length = (bytes[at + 1]! + 2) * 4;
      next = bytes[at]!;
      at += length;
    } else break;
  }
  at = Math.min(at, bytes.length);
  let sport = 0;
  let dport = 0;
  let payloadOffset = at;
  const hasPorts = fragmentOffset === 0 && (next === IPPROTO_UDP || next === IPPROTO_TCP);
  if (hasPorts && bytes.length >= at + 4) {
    sport = (bytes[at]! << 8) | bytes[at + 1]!;
    dport = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    if (next === IPPROTO_UDP) payloadOffset = at + 8;
    else if (bytes.length >= at + 13) payloadOffset = at + (bytes[at + 12]! >> 4) * 4;
  }
  return {
    bytes,
    family: 6,
    src: ipv6Number(bytes, 8),
    dst: ipv6Number(bytes, 24),
    protocol: next,
    sport,
    dport,
    ttl: bytes[7]!,
    headerLength: at,
    payloadOffset: Math.min(payloadOffset, bytes.length),
    fragmentOffset,
    moreFragments,
    inInterface,
  };
}

/** An IPv4 or IPv6 datagram, by its version nibble. */
export function decodeIp(bytes: Uint8Array, inInterface = "eth0"): Packet {
  return bytes.length > 0 && bytes[0]! >> 4 === 6 ? decodeIpv6(bytes, inInterface) : decodeIpv4(bytes, inInterface);
}

/**
 * Rewrites addresses and ports of an IPv6 datagram (a replay's mapping) on a
 * copy and fixes the UDP or TCP checksum; every other byte (hop limit, flow
 * label, extension headers) is kept. A fragment's checksum covers bytes other
 * fragments hold: its ports and checksum are left as they are.
 */
export function rewriteIpv6(bytes: Uint8Array, change: { src?: number; dst?: number; sport?: number; dport?: number }): Uint8Array {
  // A copy, not Buffer.prototype.slice's view: datagrams are Buffers from node's pool (net/ipv4 datagramBytes).
  const out = new Uint8Array(bytes);
  if (change.src !== undefined) out.set(ipv6BytesOf(change.src), 8);
  if (change.dst !== undefined) out.set(ipv6BytesOf(change.dst), 24);
  const packet = decodeIpv6(out);
  if (packet.fragmentOffset !== 0 || packet.moreFragments || (packet.protocol !== IPPROTO_UDP && packet.protocol !== IPPROTO_TCP)) return out;
  const at = packet.headerLength;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (out.length < at + (packet.protocol === IPPROTO_UDP ? 8 : 20)) return out;
  if (change.sport !== undefined) view.setUint16(at, change.sport);
  if (change.dport !== undefined) view.setUint16(at + 2, change.dport);
  const checksumAt = at + (packet.protocol === IPPROTO_UDP ? 6 : 16);
  view.setUint16(checksumAt, 0);
  view.setUint16(checksumAt, upperLayerChecksum(out, at, out.length - at, packet.protocol));
  return out;
}

/**
 * Where an IPv6 datagram's routing header starts (ip6t_rt, nft's `rt`), as
 * ipv6_find_hdr(NEXTHDR_ROUTING) walks the extension headers: -1 when there
 * is none before the upper layer (a later fragment ends the walk, as it
 * carries none of the headers after it).
 */
export function routingHeaderOffset(bytes: Uint8Array): number {
  let next = bytes[6]!;
  let at = 40;
  while (next !== NEXTHDR_ROUTING) {
    if (at + 8 > bytes.length) return -1;
    if (next === NEXTHDR_FRAGMENT) {
      if ((((bytes[at + 2]! << 8) | bytes[at + 3]!) & 0xfff8) !== 0) return -1;
      next = bytes[at]!;
      at += 8;
    } else if (next === NEXTHDR_AUTH) {
      next = bytes[at]!;
      at += (bytes[at + 1]! + 2) * 4;
    } else if (OPTION_HEADERS.has(next)) {
      next = bytes[at]!;
      at += (bytes[at + 1]! + 1) * 8;
    } else return -1;
  }
  return at + 8 <= bytes.length ? at : -1;
}
