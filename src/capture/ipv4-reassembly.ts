/**
 * IPv4 fragment reassembly as the kernel's ip_defrag does it for conntrack
 * (nf_defrag_ipv4): fragments are keyed by (src, dst, protocol, id) and held
 * for ipfrag_time (30 s); the filter table then sees one whole datagram.
 * Overlapping fragments are refused (RFC 5722 style), as Linux drops them.
 */

export interface FragmentInput {
  /** The fragment's IPv4 datagram (header + fragment data). */
  readonly ip: Uint8Array;
  readonly atUs: number;
}

interface Pending {
  readonly firstSeenUs: number;
  /** Offset in bytes -> fragment data. */
  readonly pieces: Map<number, Uint8Array>;
  header: Uint8Array | null;
  totalLength: number | null;
  broken: boolean;
}

export const IPFRAG_TIME_US = 30_000_000;

export class Ipv4Reassembler {
  private readonly pending = new Map<string, Pending>();
  /** Datagrams given up: timed out or overlapping. */
  discarded = 0;

  /** Adds a fragment; returns the whole datagram when this fragment completed it. */
  add(fragment: FragmentInput): Uint8Array | null {
    this.expire(fragment.atUs);
    const ip = fragment.ip;
    const headerLength = (ip[0]! & 0x0f) * 4;
    const flags = (ip[6]! << 8) | ip[7]!;
    const offset = (flags & 0x1fff) * 8;
    const more = (flags & 0x2000) !== 0;
    const key = `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}>${ip[16]}.${ip[17]}.${ip[18]}.${ip[19]}/${ip[9]}#${(ip[4]! << 8) | ip[5]!}`;
    let entry = this.pending.get(key);
    if (!entry) {
      entry = { firstSeenUs: fragment.atUs, pieces: new Map(), header: null, totalLength: null, broken: false };
      this.pending.set(key, entry);
    }
    const data = ip.subarray(headerLength);
    for (const [start, piece] of entry.pieces) {
      if (offset < start + piece.length && start < offset + data.length && !(start === offset && piece.length === data.length)) entry.broken = true;
    }
    entry.pieces.set(offset, data);
    if (offset === 0) entry.header = ip.subarray(0, headerLength);
    if (!more) entry.totalLength = offset + data.length;
    if (entry.broken) {
      this.pending.delete(key);
      this.discarded++;
      return null;
    }
    if (entry.header === null || entry.totalLength === null) return null;
    let covered = 0;
    for (const start of [...entry.pieces.keys()].sort((a, b) => a - b)) {
      if (start > covered) return null;
      covered = Math.max(covered, start + entry.pieces.get(start)!.length);
    }
    if (covered < entry.totalLength) return null;
    this.pending.delete(key);
    const header = entry.header;
    const whole = new Uint8Array(header.length + entry.totalLength);
    whole.set(header, 0);
    for (const [start, piece] of entry.pieces) whole.set(piece, header.length + start);
    const view = new DataView(whole.buffer);
    view.setUint16(2, whole.length);
    view.setUint16(6, view.getUint16(6) & 0x4000); // keep DF, clear MF and the offset
    view.setUint16(10, 0);
    view.setUint16(10, headerChecksum(whole, header.length));
    return whole;
  }

  private expire(nowUs: number): void {
    for (const [key, entry] of this.pending) {
      if (nowUs - entry.firstSeenUs > IPFRAG_TIME_US) {
        this.pending.delete(key);
        this.discarded++;
      }
    }
  }
}

function headerChecksum(bytes: Uint8Array, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
