import { concatBytes } from "./concat-bytes.js";

/**
 * pcapng (the format Wireshark writes by default) with one raw-IPv4
 * interface and a comment per packet, so the verdict and rule show in
 * Wireshark's packet list. Little-endian throughout.
 */

const LINKTYPE_RAW = 101;
const OPT_COMMENT = 1;
const IF_TSRESOL = 9;

const encoder = new TextEncoder();

function pad4(length: number): number {
  return (length + 3) & ~3;
}

function block(type: number, body: Uint8Array): Uint8Array {
  const total = 12 + body.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, total, true);
  out.set(body, 8);
  view.setUint32(total - 4, total, true);
  return out;
}

function options(entries: ReadonlyArray<readonly [number, Uint8Array]>): Uint8Array {
  if (entries.length === 0) return new Uint8Array(0);
  const size = entries.reduce((sum, [, value]) => sum + 4 + pad4(value.length), 0) + 4;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const [code, value] of entries) {
    view.setUint16(offset, code, true);
    view.setUint16(offset + 2, value.length, true);
    out.set(value, offset + 4);
    offset += 4 + pad4(value.length);
  }
  return out; // ends with opt_endofopt (zeros)
}

export function sectionHeader(application: string): Uint8Array {
  const fixed = new Uint8Array(16);
  const view = new DataView(fixed.buffer);
  view.setUint32(0, 0x1a2b3c4d, true);
  view.setUint16(4, 1, true);
  view.setUint16(6, 0, true);
  view.setBigInt64(8, -1n, true); // section length unknown
  const shbUserAppl = 4;
  return block(0x0a0d0d0a, concatBytes([fixed, options([[shbUserAppl, encoder.encode(application)]])]));
}

/** Interface 0: raw IPv4, microsecond timestamps. */
export function rawIpInterface(): Uint8Array {
  const fixed = new Uint8Array(8);
  const view = new DataView(fixed.buffer);
  view.setUint16(0, LINKTYPE_RAW, true);
  view.setUint32(4, 0, true); // no snap length limit
  return block(0x00000001, concatBytes([fixed, options([[IF_TSRESOL, Uint8Array.of(6)]])]));
}

export function enhancedPacket(timestampUs: number, packet: Uint8Array, comment?: string): Uint8Array {
  const fixed = new Uint8Array(20 + pad4(packet.length));
  const view = new DataView(fixed.buffer);
  const timestamp = BigInt(Math.round(timestampUs));
  view.setUint32(0, 0, true);
  view.setUint32(4, Number(timestamp >> 32n), true);
  view.setUint32(8, Number(timestamp & 0xffffffffn), true);
  view.setUint32(12, packet.length, true);
  view.setUint32(16, packet.length, true);
  fixed.set(packet, 20);
  return block(0x00000006, concatBytes([fixed, options(comment ? [[OPT_COMMENT, encoder.encode(comment)]] : [])]));
}


/** A whole pcapng file in memory. */
export function pcapngFile(packets: Iterable<{ timestampUs: number; bytes: Uint8Array; comment?: string }>): Uint8Array {
  const parts = [sectionHeader("slamlab"), rawIpInterface()];
  for (const packet of packets) parts.push(enhancedPacket(packet.timestampUs, packet.bytes, packet.comment));
  return concatBytes(parts);
}
