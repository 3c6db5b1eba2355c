import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseRuleset } from "../../src/firewall/parse-ruleset.js";
import type { SweepReport } from "../../src/tune/sweep-report.js";
import { ensureBuild } from "../helpers/ensure-build.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";

const root = join(import.meta.dirname, "..", "..");
const work = scratchDirectory("tune");

/** The built CLI in a child process: tune's worker threads run the compiled code. */
function slamlab(...args: string[]): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(root, "bin", "slamlab.js"), ...args], { encoding: "utf8", cwd: work });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

const small = ["--scenarios", "register-flood,roaming-user,broken-phone", "--param", "hits=4..12:4", "--param", "seconds=30..250:110"];
const readReport = (directory: string) => JSON.parse(readFileSync(join(directory, "results.json"), "utf8")) as SweepReport;
/** The metrics per setting; how many runs a worker simulated rather than reused depends on its share. */
const metricsOf = (directory: string) => readReport(directory).results.map(({ setting, total, byScenario }) => ({ setting, total, byScenario }));

beforeAll(() => ensureBuild(), 120_000);

describe("slamlab tune", () => {
  it("sweeps on worker threads, prints the Pareto front and a recommendation, writes JSON, CSV and HTML", () => {
    const out = join(work, "two-workers");
    const { code, stdout, stderr } = slamlab("tune", ...small, "--workers", "2", "--out", out);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/9 settings x 4 scenario runs on 2 workers/); // broken-phone has an office-allowlisted variant
    expect(stdout).toContain("Pareto front (attack let through vs legitimate harm):");
    expect(stdout).toMatch(/recommended: recent hits=\d+ seconds=\d+: /);
    expect(readdirSync(out).sort()).toEqual(["report.html", "results.csv", "results.json"]);
    const csv = readFileSync(join(out, "results.csv"), "utf8").trim().split("\n");
    expect(csv).toHaveLength(1 + 9 * 5); // a total row and four scenario rows per setting
    // One worker gives the same numbers.
    const single = join(work, "one-worker");
    expect(slamlab("tune", ...small, "--workers", "1", "--out", single).code).toBe(0);
    expect(metricsOf(single)).toEqual(metricsOf(out));
  }, 120_000);

  it("splits a sweep with --shard and tune merge puts the same report back together", () => {
    const whole = join(work, "whole");
    expect(slamlab("tune", ...small, "--workers", "1", "--out", whole).code).toBe(0);
    for (const shard of ["1/2", "2/2"]) expect(slamlab("tune", ...small, "--shard", shard, "--workers", "1", "--out", join(work, `shard-${shard[0]}`)).code).toBe(0);
    const merged = join(work, "merged");
    const { code, stdout } = slamlab("tune", "merge", join(work, "shard-1", "results.json"), join(work, "shard-2", "results.json"), "--out", merged);
    expect(code).toBe(0);
    expect(metricsOf(merged)).toEqual(metricsOf(whole));
    expect(stdout).toMatch(/recommended: /);
    // The same shard twice, or shards of different sweeps, are refused.
    const twice = slamlab("tune", "merge", join(work, "shard-1", "results.json"), join(work, "shard-1", "results.json"), "--out", join(work, "bad"));
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/is also in .*each setting must come from one shard/);
    writeFileSync(join(work, "other.json"), JSON.stringify({ format: "something-else" }));
    const foreign = slamlab("tune", "merge", join(work, "other.json"), "--out", join(work, "bad"));
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/not a slamlab tune result/);
    expect(existsSync(join(work, "bad", "results.json"))).toBe(false);
  }, 180_000);

  it("writes the recommended setting as a ruleset iptables-restore reads, or as policy fields", () => {
    const out = join(work, "policy");
    const { code, stdout } = slamlab("tune", ...small, "--out", out, "--write-policy", join(out, "recommended.rules"), "--pbx", "198.51.100.20");
    expect(code).toBe(0);
    const hits = /recommended: recent hits=(\d+) seconds=(\d+)/.exec(stdout)!;
    const text = readFileSync(join(out, "recommended.rules"), "utf8");
    expect(() => parseRuleset(text, "recommended.rules")).not.toThrow();
    expect(text).toContain(`--hitcount ${hits[1]}`);
    expect(text).toContain(`--seconds ${hits[2]}`);
    expect(text).toContain("198.51.100.20");
    expect(slamlab("tune", ...small, "--out", out, "--write-policy", join(out, "recommended.yaml")).code).toBe(0);
    expect(readFileSync(join(out, "recommended.yaml"), "utf8")).toMatch(new RegExp(`hits: ${hits[1]}\\n\\s+seconds: ${hits[2]}`));
  }, 120_000);

  it("refuses a bad parameter with what is wrong, exit 2, and writes nothing", () => {
    const out = join(work, "refused");
    const { code, stderr } = slamlab("tune", "--param", "hits=0..40", "--out", out);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--param hits=0\.\.40: 0 is not an integer in 2\.\.65535/);
    expect(existsSync(out)).toBe(false);
    expect(slamlab("tune", "--shard", "3/2", "--out", out).stderr).toMatch(/--shard 3\/2: expected i\/n/);
    expect(slamlab("tune", "--validate", "model", "--out", out).stderr).toMatch(/the only engine to validate on is docker/);
  });

  it("checks every output before sweeping: --write-policy onto the sweep's own results is refused at once", () => {
    const out = join(work, "clash");
    const { code, stderr, stdout } = slamlab("tune", ...small, "--out", out, "--write-policy", join(out, "results.json"));
    expect(code).toBe(2);
    expect(stderr).toMatch(/--out and --write-policy both write .*clash\/results\.json/);
    expect(stdout).toBe("");
    expect(existsSync(out)).toBe(false);
  });
});

const chromium = ["chromium", "chromium-browser"].map((name) => spawnSync("which", [name], { encoding: "utf8" }).stdout.trim()).find((path) => path !== "");
const requireBrowser = process.env.SLAMLAB_REQUIRE_BROWSER === "1";
if (!chromium && !requireBrowser) console.log("skipping the tune report browser check: no chromium here (apt-get install chromium)");

describe.runIf(chromium !== undefined || requireBrowser)("the tune report in a real browser", () => {
  it("opens without a network in headless Chromium and draws the heat maps and the Pareto chart", () => {
    expect(chromium, "SLAMLAB_REQUIRE_BROWSER=1 but no chromium: apt-get install chromium").toBeDefined();
    const out = join(work, "browser");
    expect(slamlab("tune", ...small, "--param", "matcher=recent,hashlimit", "--workers", "1", "--out", out).code).toBe(0);
    const browser = spawnSync(
      chromium!,
      ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run", "--dump-dom", `file://${join(out, "report.html")}`],
      { encoding: "utf8", timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
    );
    const dom = browser.stdout;
    expect(dom, browser.stderr).toContain('data-rendered="true"');
    const charts = [...dom.matchAll(/data-chart="([^"]+)"/g)].map((match) => match[1]);
    expect(charts).toContain("pareto");
    for (const matcher of ["recent", "hashlimit"]) for (const metric of ["attackDelivered", "maxPacketsToBlock", "legitDropped", "legitRegistrationsLost"]) expect(charts).toContain(`heatmap-${matcher}-${metric}`);
    // Every setting is a cell in each of the 6 heat maps and a point on the Pareto chart.
    expect(dom.match(/data-cell=""/g)).toHaveLength(18 * 6);
    expect(dom.match(/data-point=""/g)).toHaveLength(18);
    expect(dom).toContain("data-recommended");
  }, 120_000);
});
