import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pcapFile } from "../../src/capture/pcap-writer.js";
import { parseIpv4 } from "../../src/net/address.js";
import { encodeIpv4Udp } from "../../src/net/ipv4.js";
import { scratchDirectory } from "./scratch-directory.js";

const directory = scratchDirectory("captures");
let counter = 0;

export function writeTemp(bytes: Uint8Array, suffix = ".pcap"): string {
  const path = join(directory, `c${counter++}${suffix}`);
  writeFileSync(path, bytes);
  return path;
}

export function sipDatagram(src: string, text: string, options: { sport?: number; dport?: number; dst?: string; identification?: number } = {}): Uint8Array {
  return encodeIpv4Udp({
    src: parseIpv4(src),
    dst: parseIpv4(options.dst ?? "198.51.100.10"),
    sport: options.sport ?? 5060,
    dport: options.dport ?? 5060,
    payload: new TextEncoder().encode(text),
    identification: options.identification ?? 1,
  });
}

export function ethernet(ip: Uint8Array, vlan?: number): Uint8Array {
  const header = vlan === undefined ? 14 : 18;
  const frame = new Uint8Array(header + ip.length);
  frame.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0);
  if (vlan !== undefined) frame.set([0x81, 0x00, vlan >> 8, vlan & 0xff], 12);
  frame.set([0x08, 0x00], header - 2);
  frame.set(ip, header);
  return frame;
}

/** A small valid pcap of REGISTERs over Ethernet. */
export function registersPcap(count: number, options: { nanosecond?: boolean; bigEndian?: boolean } = {}): Uint8Array {
  const records = Array.from({ length: count }, (_, i) => ({
    timestampNs: 1_700_000_000_000_000_000n + BigInt(i) * 123_456_789n,
    data: ethernet(sipDatagram(`198.18.0.${(i % 200) + 1}`, `REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: ${i + 1} REGISTER\r\n\r\n`)),
  }));
  return pcapFile(1, records, options);
}

/** An IPv4 header around `payload`, carrying `protocol`, its checksum filled in. */
export function ipv4(protocol: number, src: string, dst: string, payload: Uint8Array): Uint8Array {
  const packet = new Uint8Array(20 + payload.length);
  const view = new DataView(packet.buffer);
  packet[0] = 0x45;
  view.setUint16(2, packet.length);
  view.setUint16(4, 7);
  packet[8] = 64;
  packet[9] = protocol;
  view.setUint32(12, parseIpv4(src));
  view.setUint32(16, parseIpv4(dst));
  let sum = 0;
  for (let at = 0; at < 20; at += 2) sum += view.getUint16(at);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  view.setUint16(10, ~sum & 0xffff);
  packet.set(payload, 20);
  return packet;
}

/** A TCP segment (PSH|ACK, no options) from `sport` to `dport` at sequence number `seq`. */
export function tcpSegment(sport: number, dport: number, seq: number, payload: Uint8Array): Uint8Array {
  const segment = new Uint8Array(20 + payload.length);
  const view = new DataView(segment.buffer);
  view.setUint16(0, sport);
  view.setUint16(2, dport);
  view.setUint32(4, seq >>> 0);
  view.setUint32(8, 1);
  segment[12] = 5 << 4;
  segment[13] = 0x18;
  view.setUint16(14, 65535);
  segment.set(payload, 20);
  return segment;
}
