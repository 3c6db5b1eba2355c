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
