/**
 * Capture reading: packets per second decoded (pcap record -> Ethernet -> IPv4
 * -> UDP -> SIP method) for a 1,000,000-packet capture, and memory for a
 * 100,000 and a 1,000,000-packet file, to show it stays flat in the file size.
 * Then `slamlab capture inspect` on the 1,000,000-packet file (10,000 sources) in a
 * child process: its wall time and peak RSS, beside capinfos's time on the same
 * file when Wireshark's capinfos is installed, and the floor: a loop written
 * for this one file shape, reading and counting it with nothing general.
 * Run: npm run build && node dist/bench/capture-read.js
 */
import { closeSync, openSync, readSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { decodeFrame } from "../src/capture/decode-frame.js";
import { writeFloodCapture } from "../src/capture/flood-capture.js";
import { openCapture } from "../src/capture/read-capture.js";
import { sipMethodOf } from "../src/sip/sip-method-of.js";

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

/**
 * The floor beside inspect: a loop written for the bench's file shape alone
 * (nanosecond pcap, Ethernet, IPv4 without options, UDP, REGISTER), reading
 * 1 MiB at a time, counting REGISTERs per source in a Map by address number
 * and scanning each head's lines for a User-Agent, with no other format,
 * tunnel, TCP, IAX2 or judging: what the reading and counting cost with
 * nothing general about them.
 */
function floorLoop(path: string): { registers: number; sources: number; ms: number } {
  const started = performance.now();
  const fd = openSync(path, "r");
  const buffer = Buffer.allocUnsafe(2 << 20);
  let held = readSync(fd, buffer, 0, buffer.length, null);
  let at = 24;
  let registers = 0;
  let agents = 0;
  const bySource = new Map<number, { registers: number }>();
  const agent = Buffer.from("user-agent");
  for (;;) {
    const whole = at + 16 <= held && at + 16 + buffer.readUInt32LE(at + 8) <= held;
    if (!whole) {
      buffer.copy(buffer, 0, at, held);
      held -= at;
      at = 0;
      const read = readSync(fd, buffer, held, buffer.length - held, null);
      if (read === 0) break;
      held += read;
      continue;
    }
    const frame = at + 16;
    at = frame + buffer.readUInt32LE(at + 8);
    const ip = frame + 14;
    if (buffer[frame + 12] !== 0x08 || buffer[frame + 13] !== 0 || buffer[ip + 9] !== 17) continue;
    const payload = ip + (buffer[ip]! & 0x0f) * 4 + 8;
    const end = ip + ((buffer[ip + 2]! << 8) | buffer[ip + 3]!);
    if (buffer.toString("latin1", payload, payload + 9) !== "REGISTER ") continue;
    registers++;
    const address = buffer.readInt32BE(ip + 12);
    let source = bySource.get(address);
    if (!source) bySource.set(address, (source = { registers: 0 }));
    source.registers++;
    for (let line = payload; line < end; ) {
      let lineEnd = line;
      while (lineEnd < end && buffer[lineEnd] !== 0x0a) lineEnd++;
      if (lineEnd - line <= 2) break;
      let same = lineEnd - line > agent.length;
      for (let i = 0; same && i < agent.length; i++) same = (buffer[line + i]! | 0x20) === agent[i];
      if (same) agents++;
      line = lineEnd + 1;
    }
  }
  closeSync(fd);
  if (agents !== 0) throw new Error("the bench's flood has no User-Agent");
  return { registers, sources: bySource.size, ms: performance.now() - started };
}

/** `slamlab capture inspect` in a child process (its peak RSS from the kernel's rusage), and capinfos on the same file. */
function inspect(path: string, packets: number): void {
  const bin = join(import.meta.dirname, "..", "..", "bin", "slamlab.js");
  const report = "data:text/javascript,process.on('exit',()=>process.stderr.write('maxrss '+process.resourceUsage().maxRSS+'\\n'))";
  let started = performance.now();
  const run = spawnSync(process.execPath, ["--import", report, bin, "capture", "inspect", path], { encoding: "utf8", maxBuffer: 2 ** 26 });
  const inspectMs = performance.now() - started;
  if (run.status !== 0) throw new Error(`capture inspect failed: ${run.stderr.slice(-300)}`);
  const maxRssMb = Number(/maxrss (\d+)/.exec(run.stderr)?.[1] ?? 0) / 1024;
  started = performance.now();
  const capinfos = spawnSync("capinfos", [path], { encoding: "utf8" });
  const capinfosMs = performance.now() - started;
  const beside = capinfos.status === 0 ? `; capinfos ${(capinfosMs / 1000).toFixed(2)} s (inspect takes ${(inspectMs / capinfosMs).toFixed(1)}x)` : "; no capinfos here";
  console.log(`${" ".repeat(9)}capture inspect of ${packets.toLocaleString("en-US")} packets: ${(inspectMs / 1000).toFixed(2)} s, peak RSS ${maxRssMb.toFixed(0)} MiB${beside}`);
}

const directory = await mkdtemp(join(tmpdir(), "slamlab-bench-"));
try {
  console.log(`capture reading (${cpus()[0]?.model ?? "cpu"}, node ${process.version})`);
  for (const packets of [100_000, 1_000_000]) {
    const path = join(directory, `flood-${packets}.pcap`);
    await writeFloodCapture(path, packets, 10_000);
    const size = (await stat(path)).size / 2 ** 20;
    const result = await readAndDecode(path);
    if (result.registers !== packets) throw new Error(`decoded ${result.registers} REGISTERs of ${packets}`);
    console.log(
      `${packets.toLocaleString("en-US").padStart(9)} packets, ${size.toFixed(0).padStart(4)} MiB: ${Math.round(result.packets / (result.ms / 1000)).toLocaleString("en-US").padStart(10)} packets/s decoded, peak RSS ${result.peakRssMb.toFixed(0)} MiB`,
    );
    inspect(path, packets);
    const floor = floorLoop(path);
    if (floor.registers !== packets) throw new Error(`the floor loop counted ${floor.registers} REGISTERs of ${packets}`);
    console.log(`${" ".repeat(9)}a loop for this file shape alone: ${(floor.ms / 1000).toFixed(2)} s for ${floor.registers.toLocaleString("en-US")} REGISTERs from ${floor.sources.toLocaleString("en-US")} sources (in this process, no start)`);
  }
} finally {
  await rm(directory, { recursive: true, force: true });
}
