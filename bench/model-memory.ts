/**
 * Memory of a model run against the packets it judges, the figure behind
 * the packet budget (src/scenario/estimate-packets.ts). Each size runs in a
 * child process of its own and reports its peak resident memory.
 * Run: npm run build && node dist/bench/model-memory.js
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

const floodYaml = (ratePps: number) => `name: memory-flood
description: one address flooding the PBX, for the memory bench
durationSeconds: 100
firewall: { policy: default }
hosts:
  scanner: { kind: addresses, addresses: [198.18.66.6] }
traffic:
  - { name: flood, kind: register-flood, host: scanner, ratePps: ${ratePps}, durationSeconds: 100 }
expect: [{ source: flood, blockedWithinPackets: 10 }]
`;

if (process.argv[2] === "--child") {
  const report = await runScenario(loadScenario(process.argv[3]!, null), new ModelEngine(), { maxPackets: Number.MAX_SAFE_INTEGER });
  console.log(JSON.stringify({ packets: report.result.verdicts.length, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
} else {
  const directory = mkdtempSync(join(tmpdir(), "slamlab-memory-"));
  const rows: { packets: number; maxRssBytes: number }[] = [];
  try {
    for (const ratePps of [1_000, 10_000, 30_000]) {
      const file = join(directory, `flood-${ratePps}.yaml`);
      writeFileSync(file, floodYaml(ratePps));
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--child", file], { encoding: "utf8" });
      if (child.status !== 0) throw new Error(child.stderr);
      rows.push(JSON.parse(child.stdout.trim().split("\n").pop()!));
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  console.log(`model run memory (node ${process.version}): peak RSS against packets judged`);
  console.log(`${"packets".padStart(10)} ${"peak RSS MB".padStart(12)}`);
  for (const row of rows) console.log(`${row.packets.toLocaleString("en-US").padStart(10)} ${(row.maxRssBytes / 1e6).toFixed(0).padStart(12)}`);
  const [small, , large] = rows as [(typeof rows)[0], (typeof rows)[0], (typeof rows)[0]];
  const perPacket = (large.maxRssBytes - small.maxRssBytes) / (large.packets - small.packets);
  console.log(`marginal memory: ${perPacket.toFixed(0)} bytes a judged packet (the budget assumes ${BYTES_PER_JUDGED_PACKET})`);
}
