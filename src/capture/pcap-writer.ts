import { concatBytes } from "./concat-bytes.js";

/**
 * Classic pcap files, as tcpdump writes them: the capture's own format for
 * synthesised captures, in microsecond or nanosecond resolution.
 */
export interface PcapRecord {
  readonly timestampNs: bigint;
  readonly data: Uint8Array;
  readonly originalLength?: number;
}

export function pcapHeader(linkType: number, options: { nanosecond?: boolean; bigEndian?: boolean; snapLength?: number } = {}): Uint8Array {
  const header = new Uint8Array(24);
  const view = new DataView(header.buffer);
  const little = !options.bigEndian;
  view.setUint32(0, options.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4, little);
  view.setUint16(4, 2, little);
  view.setUint16(6, 4, little);
  view.setUint32(16, options.snapLength ?? 262_144, little);
  view.setUint32(20, linkType, little);
  return header;
}

export function pcapRecord(record: PcapRecord, options: { nanosecond?: boolean; bigEndian?: boolean } = {}): Uint8Array {
  const out = new Uint8Array(16 + record.data.length);
  const view = new DataView(out.buffer);
  const little = !options.bigEndian;
  const seconds = record.timestampNs / 1_000_000_000n;
  const fraction = record.timestampNs % 1_000_000_000n;
  view.setUint32(0, Number(seconds), little);
  view.setUint32(4, Number(options.nanosecond ? fraction : fraction / 1000n), little);
  view.setUint32(8, record.data.length, little);
  view.setUint32(12, record.originalLength ?? record.data.length, little);
  out.set(record.data, 16);
  return out;
}

export function pcapFile(linkType: number, records: Iterable<PcapRecord>, options: { nanosecond?: boolean; bigEndian?: boolean; snapLength?: number } = {}): Uint8Array {
  const parts = [pcapHeader(linkType, options)];
  for (const record of records) parts.push(pcapRecord(record, options));
  return concatBytes(parts);
}
