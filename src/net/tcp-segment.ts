import { decodeIpv4, internetChecksum, IPPROTO_TCP, PacketError } from "./ipv4.js";
import type { Packet } from "./packet.js";

/** TCP header flag bits (RFC 9293), as the flags byte holds them. */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

export interface TcpSegmentSpec {
  src: number;
  dst: number;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window?: number;
  /** TCP options, already padded to a multiple of 4 bytes. */
  options?: Uint8Array;
  payload?: Uint8Array;
  ttl?: number;
  identification?: number;
}

/** Builds an IPv4/TCP datagram (DF set, as Linux sends) with valid checksums. */
export function encodeIpv4Tcp(spec: TcpSegmentSpec): Uint8Array {
  const optionsLength = spec.options?.length ?? 0;
  if (optionsLength % 4 !== 0 || optionsLength > 40) throw new PacketError("TCP options must be padded to 4 bytes, at most 40");
  const payload = spec.payload ?? new Uint8Array(0);
  const tcpLength = 20 + optionsLength + payload.length;
  const totalLength = 20 + tcpLength;
  if (totalLength > 65535) throw new PacketError(`datagram of ${totalLength} bytes exceeds 65535`);
  const bytes = new Uint8Array(totalLength);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x45;
  view.setUint16(2, totalLength);
  view.setUint16(4, spec.identification ?? 0);
  view.setUint16(6, 0x4000);
  bytes[8] = spec.ttl ?? 64;
  bytes[9] = IPPROTO_TCP;
  view.setUint32(12, spec.src);
  view.setUint32(16, spec.dst);
  view.setUint16(10, internetChecksum(bytes, 0, 20));
  view.setUint16(20, spec.sport);
  view.setUint16(22, spec.dport);
  view.setUint32(24, spec.seq >>> 0);
  view.setUint32(28, spec.ack >>> 0);
  bytes[32] = ((20 + optionsLength) / 4) << 4;
  bytes[33] = spec.flags;
  view.setUint16(34, spec.window ?? 64240);
  if (spec.options) bytes.set(spec.options, 40);
  bytes.set(payload, 40 + optionsLength);
  const pseudo = (spec.src >>> 16) + (spec.src & 0xffff) + (spec.dst >>> 16) + (spec.dst & 0xffff) + IPPROTO_TCP + tcpLength;
  view.setUint16(36, internetChecksum(bytes, 20, tcpLength, pseudo));
  return bytes;
}

/**
 * An IPv4 TCP segment with `bytes` written `offset` bytes into its IP
 * datagram and its TCP checksum made right again (a mangled option: xt_TCPMSS,
 * nft's `tcp option ... set`).
 */
export function rewriteIpv4TcpBytes(packet: Packet, offset: number, bytes: readonly number[]): Packet {
  const out = new Uint8Array(packet.bytes);
  out.set(bytes, offset);
  const tcp = packet.headerLength;
  const segmentLength = ((out[2]! << 8) | out[3]!) - tcp;
  out[tcp + 16] = 0;
  out[tcp + 17] = 0;
  const pseudo = (packet.src >>> 16) + (packet.src & 0xffff) + (packet.dst >>> 16) + (packet.dst & 0xffff) + IPPROTO_TCP + segmentLength;
  const checksum = internetChecksum(out, tcp, segmentLength, pseudo);
  out[tcp + 16] = checksum >> 8;
  out[tcp + 17] = checksum & 0xff;
  return decodeIpv4(out, packet.inInterface);
}
