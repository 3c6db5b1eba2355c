import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { floodScenarioYaml, writeScanScenario } from "../../../bench/scan-scenario.js";
import { ensureBuild } from "../../helpers/ensure-build.js";
import { scratchDirectory } from "../../helpers/scratch-directory.js";

const root = join(import.meta.dirname, "..", "..", "..");

// The child reports its own peak resident memory as it exits (getrusage's ru_maxrss, in KiB).
const reportPeakRss = `data:text/javascript,process.on("exit",()=>process.stderr.write("\\npeak-rss-kib "+process.resourceUsage().maxRSS+"\\n"))`;

/** `slamlab simulate` in a child process: its exit status, its output and its peak RSS in MB. */
function simulateInChild(args: string[]): { status: number | null; stdout: string; stderr: string; peakRssMb: number } {
  const child = spawnSync(process.execPath, ["--import", reportPeakRss, join(root, "bin", "slamlab.js"), "simulate", ...args], { encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
  const peak = /peak-rss-kib (\d+)/.exec(child.stderr);
  if (!peak) throw new Error(`the child reported no peak RSS (status ${child.status}): ${child.stderr.slice(-800)}`);
  return { status: child.status, stdout: child.stdout, stderr: child.stderr, peakRssMb: (Number(peak[1]) * 1024) / 1e6 };
}

describe("a model run's memory", () => {
  it("follows its state, not its packets: 800,000 REGISTERs from one address stay under 250 MB resident", () => {
    ensureBuild();
    const directory = scratchDirectory("run-memory");
    const file = join(directory, "flood.yaml");
    writeFileSync(file, floodScenarioYaml(8_000, 100));
    const json = join(directory, "report.json");
    const run = simulateInChild(["--scenario", file, "--max-packets", "2000000", "--json", json]);
    expect(run.status, run.stderr.slice(-800)).toBe(0);
    const report = JSON.parse(readFileSync(json, "utf8")) as { packetsJudged: number; outcomes: Array<{ source: string; sent: number }> };
    expect(report.outcomes.find((outcome) => outcome.source === "flood")?.sent).toBe(800_000);
    expect(report.packetsJudged).toBe(800_009);
    // Kept per packet (as --verdicts keeps them, about 300 bytes each) the same run peaks near 400 MB.
    expect(run.peakRssMb).toBeLessThan(250);
  }, 120_000);

  it("holds a 65,536-address scan under 1 GB resident: its per-source state, about 3 kB a source", () => {
    ensureBuild();
    const file = writeScanScenario(65_536, 3, 2.5);
    const run = simulateInChild(["--scenario", file]);
    rmSync(dirname(file), { recursive: true, force: true });
    // The scan overflows the default policy's recent table (200 entries): nobody is blocked, expectation failed, exit 1.
    expect(run.status, run.stderr.slice(-800)).toBe(1);
    expect(run.stdout).toContain("scan-0");
    expect(run.peakRssMb).toBeLessThan(1000);
  }, 180_000);
});
