import { createWriteStream } from "node:fs";
import { encodeIpv4Udp } from "../net/ipv4.js";
import { pcapHeader, pcapRecord } from "./pcap-writer.js";

/**
 * Writes a capture of `packets` bare REGISTERs from `sources` addresses
 * (198.18.0.0 up) to 198.51.100.16, one a millisecond, streamed to disk: the
 * large file benches and bounds tests read, made in seconds without a run.
 */
export async function writeFloodCapture(path: string, packets: number, sources: number): Promise<void> {
  const stream = createWriteStream(path);
  const write = (bytes: Uint8Array) => (stream.write(bytes) ? Promise.resolve() : new Promise<void>((resolve) => stream.once("drain", () => resolve())));
  await write(pcapHeader(1, { nanosecond: true }));
  const payload = new TextEncoder().encode("REGISTER sip:198.51.100.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bK-1;rport\r\nCSeq: 1 REGISTER\r\n\r\n");
  for (let i = 0; i < packets; i++) {
    const ip = encodeIpv4Udp({ src: 0xc6120000 + (i % sources), dst: 0xc6336410, sport: 5060, dport: 5060, payload, identification: i & 0xffff });
    const frame = new Uint8Array(14 + ip.length);
    frame[12] = 0x08;
    frame.set(ip, 14);
    await write(pcapRecord({ timestampNs: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n, data: frame }, { nanosecond: true }));
  }
  await new Promise<void>((resolve) => stream.end(() => resolve()));
}
