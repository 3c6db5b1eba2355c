import type { Packet } from "./packet.js";

/**
 * IPv4 + UDP encoding and decoding. The model judges the bytes the kernel would
 * see, so packets are kept as whole datagrams and the fields below are read from
 * them once, when the packet is made.
 */

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export class PacketError extends Error {
  readonly code = "PACKET_INVALID";
}

export interface UdpDatagramSpec {
  src: number;
  dst: number;
  sport: number;
  dport: number;
  payload: Uint8Array;
  ttl?: number;
  identification?: number;
  dontFragment?: boolean;
  tos?: number;
  /** IP options, already padded to a multiple of 4 bytes. */
  options?: Uint8Array;
}

/** Builds an IPv4/UDP datagram with valid header and UDP checksums. */
export function encodeIpv4Udp(spec: UdpDatagramSpec): Uint8Array {
  const optionsLength = spec.options?.length ?? 0;
  if (optionsLength % 4 !== 0 || optionsLength > 40) throw new PacketError("IP options must be padded to 4 bytes, at most 40");
  const headerLength = 20 + optionsLength;
  const udpLength = 8 + spec.payload.length;
  const totalLength = headerLength + udpLength;
  if (totalLength > 65535) throw new PacketError(`datagram of ${totalLength} bytes exceeds 65535`);
  const bytes = datagramBytes(totalLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  bytes[0] = 0x40 | (headerLength >> 2);
  bytes[1] = spec.tos ?? 0;
  view.setUint16(2, totalLength);
  view.setUint16(4, spec.identification ?? 0);
  view.setUint16(6, spec.dontFragment === false ? 0 : 0x4000);
  bytes[8] = spec.ttl ?? 64;
  bytes[9] = IPPROTO_UDP;
  view.setUint16(10, 0);
  view.setUint32(12, spec.src);
  view.setUint32(16, spec.dst);
  if (spec.options) bytes.set(spec.options, 20);
  view.setUint16(10, internetChecksum(bytes, 0, headerLength));
  view.setUint16(headerLength, spec.sport);
  view.setUint16(headerLength + 2, spec.dport);
  view.setUint16(headerLength + 4, udpLength);
  view.setUint16(headerLength + 6, 0);
  bytes.set(spec.payload, headerLength + 8);
  view.setUint16(headerLength + 6, udpChecksum(bytes, headerLength, spec.src, spec.dst, udpLength));
  return bytes;
}

/**
 * Room for a datagram every byte of which the caller writes. A typed array
 * of a few hundred bytes gets a backing store of its own from the allocator
 * (about 1 µs with the collections its external memory brings on); node's
 * pooled Buffer takes it from a shared slab in a seventh of that. Callers
 * read it through byteOffset: it is a view into the slab.
 */
function datagramBytes(length: number): Uint8Array {
  return Buffer.allocUnsafe(length);
}

/** RFC 1071 ones'-complement sum over bytes[start, start+length). */
export function internetChecksum(bytes: Uint8Array, start: number, length: number, initial = 0): number {
  // Four bytes a step through a DataView: every datagram a run sends is summed whole, and this is
  // 2.5 times the speed of a byte pair a step. The sum stays under 2^32 for any IP datagram.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let sum = initial;
  // Bytes past the array's end (a truncated datagram's claimed length) count as zeros.
  const end = Math.min(start + length, bytes.byteLength);
  let i = start;
  for (; i + 3 < end; i += 4) {
    const word = view.getUint32(i);
    sum += (word >>> 16) + (word & 0xffff);
  }
  for (; i + 1 < end; i += 2) sum += view.getUint16(i);
  if (i < end) sum += bytes[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function udpChecksum(bytes: Uint8Array, udpStart: number, src: number, dst: number, udpLength: number): number {
  const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + IPPROTO_UDP + udpLength;
  const sum = internetChecksum(bytes, udpStart, udpLength, pseudo);
  return sum === 0 ? 0xffff : sum;
}

/** The IPv4 packet with header byte `offset` set to `value` and the header checksum fixed, on a copy (DSCP, TTL: what mangling targets and statements write). */
export function rewriteIpv4HeaderByte(packet: Packet, offset: number, value: number): Packet {
  if (packet.bytes[offset] === value) return packet;
  // A copy: the packet's bytes are a pooled Buffer, whose slice() is a view.
  const bytes = new Uint8Array(packet.bytes);
  bytes[offset] = value;
  bytes[10] = 0;
  bytes[11] = 0;
  const checksum = internetChecksum(bytes, 0, packet.headerLength);
  bytes[10] = checksum >> 8;
  bytes[11] = checksum & 0xff;
  return decodeIpv4(bytes, packet.inInterface);
}

/**
 * Rewrites addresses/ports (NAT, replay address mapping) on a copy and fixes
 * the checksums; every other header byte (TTL, ID, options, flags) is kept.
 * UDP and TCP checksums cover a pseudo-header with the addresses, so they are
 * recomputed where the segment is whole; a fragment's UDP checksum cannot be
 * (it covers bytes other fragments hold) and becomes 0, "none", as UDP allows.
 */
export function rewriteIpv4(
  bytes: Uint8Array,
  change: { src?: number; dst?: number; sport?: number; dport?: number },
): Uint8Array {
  const out = datagramBytes(bytes.length);
  out.set(bytes);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const headerLength = (out[0]! & 0x0f) * 4;
  if (change.src !== undefined) view.setUint32(12, change.src);
  if (change.dst !== undefined) view.setUint32(16, change.dst);
  view.setUint16(10, 0);
  view.setUint16(10, internetChecksum(out, 0, headerLength));
  const fragmentField = view.getUint16(6);
  const isFirstFragment = (fragmentField & 0x1fff) === 0;
  const moreFragments = (fragmentField & 0x2000) !== 0;
  const protocol = out[9];
  if ((protocol !== IPPROTO_UDP && protocol !== IPPROTO_TCP) || !isFirstFragment || out.length < headerLength + 8) return out;
  if (change.sport !== undefined) view.setUint16(headerLength, change.sport);
  if (change.dport !== undefined) view.setUint16(headerLength + 2, change.dport);
  const src = view.getUint32(12);
  const dst = view.getUint32(16);
  if (protocol === IPPROTO_UDP) {
    const hadChecksum = view.getUint16(headerLength + 6) !== 0;
    view.setUint16(headerLength + 6, 0);
    const udpLength = view.getUint16(headerLength + 4);
    if (hadChecksum && !moreFragments && udpLength <= out.length - headerLength) {
      view.setUint16(headerLength + 6, udpChecksum(out, headerLength, src, dst, udpLength));
    }
  } else if (!moreFragments && out.length >= headerLength + 18) {
    const segmentLength = view.getUint16(2) - headerLength;
    if (segmentLength <= out.length - headerLength) {
      view.setUint16(headerLength + 16, 0);
      const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + IPPROTO_TCP + segmentLength;
      view.setUint16(headerLength + 16, internetChecksum(out, headerLength, segmentLength, pseudo));
    }
  }
  return out;
}

/** Reads the fields the firewall looks at from a whole IPv4 datagram. */
export function decodeIpv4(bytes: Uint8Array, inInterface = "eth0"): Packet {
  if (bytes.length < 20) throw new PacketError(`IPv4 datagram of ${bytes.length} bytes is shorter than a header`);
  if (bytes[0]! >> 4 !== 4) throw new PacketError(`IP version ${bytes[0]! >> 4} is not 4`);
  const headerLength = (bytes[0]! & 0x0f) * 4;
  if (headerLength < 20 || headerLength > bytes.length) throw new PacketError(`IPv4 header length ${headerLength} is invalid`);
  // Read byte by byte, not through a DataView: this runs for every packet judged, and a view is an object a packet.
  const fragmentField = (bytes[6]! << 8) | bytes[7]!;
  const fragmentOffset = (fragmentField & 0x1fff) * 8;
  const protocol = bytes[9]!;
  let sport = 0;
  let dport = 0;
  let payloadOffset = headerLength;
  const hasPorts = fragmentOffset === 0 && (protocol === IPPROTO_UDP || protocol === IPPROTO_TCP);
  if (hasPorts && bytes.length >= headerLength + 4) {
    sport = (bytes[headerLength]! << 8) | bytes[headerLength + 1]!;
    dport = (bytes[headerLength + 2]! << 8) | bytes[headerLength + 3]!;
    if (protocol === IPPROTO_UDP) payloadOffset = headerLength + 8;
    else if (bytes.length >= headerLength + 13) payloadOffset = headerLength + (bytes[headerLength + 12]! >> 4) * 4;
  }
  return {
    bytes,
    family: 4,
    src: ((bytes[12]! << 24) | (bytes[13]! << 16) | (bytes[14]! << 8) | bytes[15]!) >>> 0,
    dst: ((bytes[16]! << 24) | (bytes[17]! << 16) | (bytes[18]! << 8) | bytes[19]!) >>> 0,
    protocol,
    sport,
    dport,
    ttl: bytes[8]!,
    headerLength,
    payloadOffset: Math.min(payloadOffset, bytes.length),
    fragmentOffset,
    moreFragments: (fragmentField & 0x2000) !== 0,
    inInterface,
  };
}
