/**
 * Capture reading: packets per second decoded (pcap record -> Ethernet -> IPv4
 * -> UDP -> SIP method) for a 1,000,000-packet capture, and memory for a
 * 100,000 and a 1,000,000-packet file, to show it stays flat in the file size.
 * Then `slamlab capture inspect` on the 1,000,000-packet file (10,000 sources) in a
 * child process: its wall time and peak RSS, beside capinfos's time on the same
 * file when Wireshark's capinfos is installed.
 * Run: npm run build && node dist/bench/capture-read.js
 */
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
  }
} finally {
  await rm(directory, { recursive: true, force: true });
}
