/**
 * Capture reading: packets per second decoded (pcap record -> Ethernet -> IPv4
 * -> UDP -> SIP method) for a 1,000,000-packet capture, and memory for a
 * 100,000 and a 1,000,000-packet file, to show it stays flat in the file size.
 * Run: npm run build && node dist/bench/capture-read.js
 */
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { decodeFrame } from "../src/capture/decode-frame.js";
import { pcapHeader, pcapRecord } from "../src/capture/pcap-writer.js";
import { openCapture } from "../src/capture/read-capture.js";
import { encodeIpv4Udp } from "../src/net/ipv4.js";
import { sipMethodOf } from "../src/sip/sip-method-of.js";

async function writeCapture(path: string, packets: number): Promise<void> {
  const stream = createWriteStream(path);
  const write = (bytes: Uint8Array) => (stream.write(bytes) ? Promise.resolve() : new Promise<void>((resolve) => stream.once("drain", () => resolve())));
  await write(pcapHeader(1, { nanosecond: true }));
  const payload = new TextEncoder().encode("REGISTER sip:198.51.100.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bK-1;rport\r\nCSeq: 1 REGISTER\r\n\r\n");
  for (let i = 0; i < packets; i++) {
    const ip = encodeIpv4Udp({ src: 0xc6120000 + (i % 10_000), dst: 0xc6336410, sport: 5060, dport: 5060, payload, identification: i & 0xffff });
    const frame = new Uint8Array(14 + ip.length);
    frame[12] = 0x08;
    frame.set(ip, 14);
    await write(pcapRecord({ timestampNs: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n, data: frame }, { nanosecond: true }));
  }
  await new Promise<void>((resolve) => stream.end(() => resolve()));
}

async function readAndDecode(path: string): Promise<{ packets: number; registers: number; ms: number; peakRssMb: number }> {
  let peakRss = process.memoryUsage().rss;
  const started = performance.now();
  const capture = await openCapture(path);
  let packets = 0;
  let registers = 0;
  for await (const frame of capture) {
    const packet = decodeFrame(frame);
    if (typeof packet !== "string" && sipMethodOf(packet.payload) === "REGISTER") registers++;
    if (++packets % 50_000 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  return { packets, registers, ms: performance.now() - started, peakRssMb: peakRss / 2 ** 20 };
}

const directory = await mkdtemp(join(tmpdir(), "slamlab-bench-"));
try {
  console.log(`capture reading (${cpus()[0]?.model ?? "cpu"}, node ${process.version})`);
  for (const packets of [100_000, 1_000_000]) {
    const path = join(directory, `flood-${packets}.pcap`);
    await writeCapture(path, packets);
    const size = (await stat(path)).size / 2 ** 20;
    const result = await readAndDecode(path);
    if (result.registers !== packets) throw new Error(`decoded ${result.registers} REGISTERs of ${packets}`);
    console.log(
      `${packets.toLocaleString("en-US").padStart(9)} packets, ${size.toFixed(0).padStart(4)} MiB: ${Math.round(result.packets / (result.ms / 1000)).toLocaleString("en-US").padStart(10)} packets/s decoded, peak RSS ${result.peakRssMb.toFixed(0)} MiB`,
    );
  }
} finally {
  await rm(directory, { recursive: true, force: true });
}
