import type { Packet } from "../../../net/packet.js";

/**
 * What nft's expressions read of a packet, by the names nft gives them
 * (src/proto.c, src/tcpopt.c, src/meta.c, src/fib.c): header fields, TCP
 * flags and options, ICMP types, days and route types.
 */

/** nft's day_type (src/meta.c): Sunday is 0, as the kernel's weekday (nft_meta_weekday) counts. */
export const WEEKDAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
/** The other header fields nft names (src/proto.c), by offset and size in bytes; doff is the high nibble of its byte. */
export const HEADER_FIELDS: Readonly<Record<"udp" | "tcp", Readonly<Record<string, { readonly offset: number; readonly bytes: number; readonly shift?: number }>>>> = {
  udp: { length: { offset: 4, bytes: 2 }, checksum: { offset: 6, bytes: 2 } },
  tcp: { sequence: { offset: 4, bytes: 4 }, ackseq: { offset: 8, bytes: 4 }, doff: { offset: 12, bytes: 1, shift: 4 }, window: { offset: 14, bytes: 2 }, checksum: { offset: 16, bytes: 2 }, urgptr: { offset: 18, bytes: 2 } },
};
/** TCP header flag bits as nft names them. */
export const TCP_FLAG_BITS: Readonly<Record<string, number>> = { fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10, urg: 0x20, ecn: 0x40, cwr: 0x80 };
/** TCP options nft names (src/tcpopt.c): each kind, and its fields' offsets and lengths in bytes from the kind byte. */
export const TCP_OPTIONS: Readonly<Record<string, { readonly kind: number; readonly fields: Readonly<Record<string, { readonly offset: number; readonly length: number }>> }>> = {
  eol: { kind: 0, fields: {} },
  nop: { kind: 1, fields: {} },
  maxseg: { kind: 2, fields: { length: { offset: 1, length: 1 }, size: { offset: 2, length: 2 } } },
  window: { kind: 3, fields: { length: { offset: 1, length: 1 }, count: { offset: 2, length: 1 } } },
  "sack-perm": { kind: 4, fields: { length: { offset: 1, length: 1 } } },
  sack: { kind: 5, fields: { length: { offset: 1, length: 1 }, left: { offset: 2, length: 4 }, right: { offset: 6, length: 4 } } },
  timestamp: { kind: 8, fields: { length: { offset: 1, length: 1 }, tsval: { offset: 2, length: 4 }, tsecr: { offset: 6, length: 4 } } },
};

/**
 * nft_exthdr_tcp_eval's walk: the first option of `kind` in a TCP header
 * (from its 21st byte while two bytes are left, EOL, NOP and a zero length
 * byte one byte each), as its start in the packet's bytes times 256 plus its
 * length; -1 when the segment has no such option or the header is not all
 * there, -2 when the option found runs past the header (nft's err: not
 * present, and no field read).
 */
export function tcpOptionOf(packet: Packet, kind: number): number {
  const bytes = packet.bytes;
  const tcp = packet.headerLength;
  if (packet.protocol !== 6 || packet.fragmentOffset !== 0 || bytes.length < tcp + 20) return -1;
  const headerLength = (bytes[tcp + 12]! >> 4) << 2;
  if (headerLength < 20 || bytes.length < tcp + headerLength) return -1;
  for (let at = 20; at < headerLength - 1; ) {
    const type = bytes[tcp + at]!;
    const length = type <= 1 || bytes[tcp + at + 1] === 0 ? 1 : bytes[tcp + at + 1]!;
    if (type === kind) return at + length > headerLength ? -2 : (tcp + at) * 256 + length;
    at += length;
  }
  return -1;
}

/** ICMP types by the names nft prints (nft describe icmp type). */
export const ICMP_TYPES: Readonly<Record<string, number>> = {
  "echo-reply": 0,
  "destination-unreachable": 3,
  "source-quench": 4,
  redirect: 5,
  "echo-request": 8,
  "router-advertisement": 9,
  "router-solicitation": 10,
  "time-exceeded": 11,
  "parameter-problem": 12,
  "timestamp-request": 13,
  "timestamp-reply": 14,
  "info-request": 15,
  "info-reply": 16,
  "address-mask-request": 17,
  "address-mask-reply": 18,
};

/** ICMPv6 types by the names nft prints (nft describe icmpv6 type), with their numbers (RFC 4443, 4861, 2710, 3810). */
export const ICMPV6_TYPE_NUMBERS: Readonly<Record<string, number>> = {
  "destination-unreachable": 1,
  "packet-too-big": 2,
  "time-exceeded": 3,
  "parameter-problem": 4,
  "echo-request": 128,
  "echo-reply": 129,
  "mld-listener-query": 130,
  "mld-listener-report": 131,
  "mld-listener-done": 132,
  "mld-listener-reduction": 132,
  "nd-router-solicit": 133,
  "nd-router-advert": 134,
  "nd-neighbor-solicit": 135,
  "nd-neighbor-advert": 136,
  "nd-redirect": 137,
  "router-renumbering": 138,
  "ind-neighbor-solicit": 141,
  "ind-neighbor-advert": 142,
  "mld2-listener-report": 143,
};

/** Route types as nft names them (nft describe fib_addrtype). */
export const FIB_TYPES: ReadonlySet<string> = new Set(["unspec", "unicast", "local", "broadcast", "anycast", "multicast", "blackhole", "unreachable", "prohibit", "throw", "nat", "xresolve"]);

/** nft's byte units (quotas, byte rates): a kbyte is 1024 bytes. */
export const BYTE_UNITS: Readonly<Record<string, number>> = { bytes: 1, kbytes: 1024, mbytes: 1024 * 1024 };

/** `length` bytes from `start` as one big-endian number (up to 4 bytes, so it stays exact). */
export function bigEndianAt(bytes: Uint8Array, start: number, length: number): number {
  let value = 0;
  for (let index = 0; index < length; index++) value = value * 256 + bytes[start + index]!;
  return value;
}
