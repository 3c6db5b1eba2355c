/**
 * Memory of a model run against the packets it judges: keeping every verdict
 * (what --json --verdicts and --pcap-dir need; the figure behind the packet
 * budget in src/scenario/estimate-packets.ts) and streaming them into the
 * outcomes (every other run). Each run is a child process of its own and
 * reports its peak resident memory.
 * Run: npm run build && node dist/bench/model-memory.js [--streamed-only]
 * or, for a botnet instead of the floods (bench/scan-scenario.ts's scan,
 * N addresses at 2 REGISTERs a second each for S seconds):
 * node dist/bench/model-memory.js --scan N S
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runScenario } from "../src/cli/run-scenario.js";
import { ModelEngine } from "../src/engines/model/model-engine.js";
import { BYTES_PER_JUDGED_PACKET } from "../src/scenario/estimate-packets.js";
import { loadScenario } from "../src/scenario/load-scenario.js";
import { packetsJudged } from "../src/verdict/run-result.js";
import { floodScenarioYaml, writeScanScenario } from "./scan-scenario.js";

if (process.argv[2] === "--child") {
  const keepVerdicts = process.argv[4] === "kept";
  const report = await runScenario(loadScenario(process.argv[3]!, null), new ModelEngine(), { maxPackets: Number.MAX_SAFE_INTEGER, keepVerdicts });
  console.log(JSON.stringify({ packets: packetsJudged(report.result), maxRssBytes: process.resourceUsage().maxRSS * 1024, wallMs: report.result.wallMs }));
} else {
  const directory = mkdtempSync(join(tmpdir(), "slamlab-memory-"));
  type Row = { how: string; packets: number; maxRssBytes: number; wallMs: number };
  const rows: Row[] = [];
  const run = (how: string, file: string) => {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--child", file, how], { encoding: "utf8" });
    if (child.status !== 0) throw new Error(child.stderr);
    rows.push({ how, ...JSON.parse(child.stdout.trim().split("\n").pop()!) });
  };
  const measure = (how: "kept" | "streamed", ratePps: number, seconds = 100) => {
    const file = join(directory, `flood-${ratePps}-${seconds}.yaml`);
    writeFileSync(file, floodScenarioYaml(ratePps, seconds));
    run(how, file);
  };
  const scanAt = process.argv.indexOf("--scan");
  try {
    if (scanAt >= 0) {
      const [sources, seconds] = [Number(process.argv[scanAt + 1]), Number(process.argv[scanAt + 2])];
      if (!(sources > 0 && seconds > 0)) throw new Error("--scan N S: N addresses, S seconds");
      const file = writeScanScenario(sources, seconds + 1, seconds);
      try {
        run("streamed", file);
      } finally {
        rmSync(join(file, ".."), { recursive: true, force: true });
      }
    } else if (!process.argv.includes("--streamed-only")) for (const ratePps of [1_000, 10_000, 30_000]) measure("kept", ratePps);
    if (scanAt < 0) {
      for (const ratePps of [1_000, 10_000, 30_000]) measure("streamed", ratePps);
      // The 30-million-packet run: 100,000 REGISTERs a second for 300 s.
      measure("streamed", 100_000, 300);
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  console.log(`model run memory (node ${process.version}): peak RSS against packets judged, ${scanAt >= 0 ? "a scanning botnet" : "one-address floods (100 s; 300 s for the last)"}`);
  console.log(`${"verdicts".padEnd(9)} ${"packets".padStart(11)} ${"peak RSS MB".padStart(12)} ${"wall s".padStart(7)}`);
  for (const row of rows) console.log(`${row.how.padEnd(9)} ${row.packets.toLocaleString("en-US").padStart(11)} ${(row.maxRssBytes / 1e6).toFixed(0).padStart(12)} ${(row.wallMs / 1000).toFixed(1).padStart(7)}`);
  const kept = rows.filter((row) => row.how === "kept");
  if (kept.length === 3) {
    const perPacket = (kept[2]!.maxRssBytes - kept[0]!.maxRssBytes) / (kept[2]!.packets - kept[0]!.packets);
    console.log(`kept: ${perPacket.toFixed(0)} bytes a judged packet at the margin (the budget assumes ${BYTES_PER_JUDGED_PACKET})`);
  }
}
