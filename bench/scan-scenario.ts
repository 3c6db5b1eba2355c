import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadScenario } from "../src/scenario/load-scenario.js";
import type { Scenario } from "../src/scenario/scenario.js";

/**
 * The benches' botnet: N addresses each walking extensions at 2 REGISTERs a
 * second through the default policy, a bot that never gives up, from 0.5 s
 * for `floodSeconds`. A range host holds at most 65,536 addresses: past
 * that the botnet is two, one per /16 of the lab's /15 (65,534 hosts each).
 * Written to a file of its own (a sweep's workers load scenarios by file).
 */
export function writeScanScenario(sources: number, seconds: number, floodSeconds: number): string {
  const parts = sources > 65_536 ? [65_534, sources - 65_534] : [sources];
  const file = join(mkdtempSync(join(tmpdir(), "slamlab-scan-")), "scan.yaml");
  writeFileSync(
    file,
    `name: scan
description: ${sources} addresses each walking extensions at 2 REGISTERs a second
durationSeconds: ${seconds}
firewall: { policy: default }
pbx: { accounts: [{ users: 200-249, password: "pw-{user}-Strong" }] }
hosts:
${parts.map((count, index) => `  botnet-${index}: { kind: range, cidr: ${parts.length === 1 ? "198.18.0.0/15" : `198.${18 + index}.0.0/16`}, count: ${count} }`).join("\n")}
traffic:
${parts.map((_, index) => `  - { name: scan-${index}, kind: register-flood, host: botnet-${index}, ratePps: 2, durationSeconds: ${floodSeconds}, startSeconds: 0.5, giveUpSeconds: 0 }`).join("\n")}
expect: [{ source: scan-0, blockedWithinPackets: 10 }]
`,
  );
  return file;
}

/**
 * The memory benches' flood: one address sending REGISTERs at `ratePps` for
 * the whole run through the default policy, a bot that never gives up.
 */
export function floodScenarioYaml(ratePps: number, seconds: number): string {
  return `name: memory-flood
description: one address flooding the PBX, for the memory bench
durationSeconds: ${seconds}
firewall: { policy: default }
hosts:
  scanner: { kind: addresses, addresses: [198.18.66.6] }
traffic:
  # A bot that never gives up: the bench measures a flood that keeps going for the whole run.
  - { name: flood, kind: register-flood, host: scanner, ratePps: ${ratePps}, durationSeconds: ${seconds}, giveUpSeconds: 0 }
expect: [{ source: flood, blockedWithinPackets: 10 }]
`;
}

/** The botnet as a loaded scenario, its file removed. */
export function scanScenario(sources: number, seconds: number, floodSeconds: number): Scenario {
  const file = writeScanScenario(sources, seconds, floodSeconds);
  const scenario = loadScenario(file, null);
  rmSync(join(file, ".."), { recursive: true });
  return scenario;
}
