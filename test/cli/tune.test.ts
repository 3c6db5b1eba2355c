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

  it("says a sweep with no attacker has nothing to recommend instead of recommending the most lenient setting", () => {
    const out = join(work, "no-attacker");
    const { code, stdout } = slamlab("tune", "--scenarios", "roaming-user", "--param", "hits=4..8:4", "--param", "seconds=60..120:60", "--workers", "1", "--out", out);
    expect(code).toBe(0);
    expect(stdout).toMatch(/nothing to recommend: no swept scenario has an attacker/);
    expect(stdout).not.toMatch(/recommended: /);
    const refused = slamlab("tune", "--scenarios", "roaming-user", "--param", "hits=4..8:4", "--param", "seconds=60..120:60", "--workers", "1", "--out", out, "--write-policy", join(out, "tuned.rules"));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/no setting to write: no swept scenario has an attacker/);
    expect(existsSync(join(out, "tuned.rules"))).toBe(false);
  }, 60_000);

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

/** The page as headless Chromium leaves it once its script has drawn the charts. */
function renderInBrowser(page: string): string {
  expect(chromium, "SLAMLAB_REQUIRE_BROWSER=1 but no chromium: apt-get install chromium").toBeDefined();
  const browser = spawnSync(
    chromium!,
    ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run", "--dump-dom", `file://${page}`],
    { encoding: "utf8", timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
  );
  expect(browser.stdout, browser.stderr).toContain('data-rendered="true"');
  return browser.stdout;
}

type Metrics = SweepReport["results"][number]["total"];
const quiet: Metrics = { attackDelivered: 0, attackSent: 1000, attackersNeverBlocked: 0, attackers: 1, maxSecondsToBlock: 1, maxPacketsToBlock: 5, legitRegistrationsLost: 0, legitAgents: 4, legitDropped: 0, legitSecondsBlocked: 0, passwordsFound: 0 };

/** A results.json as tune writes it, for settings whose per-scenario metrics are given; tune merge renders it. */
function reportOf(name: string, settings: Array<{ hits: number; seconds: number; byScenario: Record<string, Partial<Metrics>> }>): string {
  const results = settings.map(({ hits, seconds, byScenario }) => {
    const scenarios = Object.fromEntries(Object.entries(byScenario).map(([label, metrics]) => [label, { ...quiet, ...metrics }]));
    const total = Object.values(scenarios).reduce((sum, metrics) => Object.fromEntries(Object.entries(sum).map(([key, value]) => [key, (value as number) + (metrics[key as keyof Metrics] as number)])) as unknown as Metrics);
    return { setting: { matcher: "recent", hits, seconds }, total, byScenario: scenarios, simulated: 1 };
  });
  const file = join(work, `${name}.json`);
  writeFileSync(file, JSON.stringify({ format: "slamlab-tune/1", scenarios: Object.keys(settings[0]!.byScenario), shard: "1/1", results }));
  const out = join(work, name);
  expect(slamlab("tune", "merge", file, "--out", out).code).toBe(0);
  return renderInBrowser(join(out, "report.html"));
}

const attributes = (element: string) => Object.fromEntries([...element.matchAll(/([\w-]+)="([^"]*)"/g)].map((match) => [match[1]!, match[2]!]));
/** The heat map cells of one chart: the value each shows and its fill. */
function cellsOf(dom: string, chart: string): Array<{ value: string; fill: string; title: string }> {
  const svg = new RegExp(`<svg[^>]*data-chart="${chart}"[^>]*>([\\s\\S]*?)</svg>`).exec(dom)![1]!;
  return [...svg.matchAll(/<rect([^>]*data-cell="")[^>]*><title>([^<]*)<\/title>/g)].map((match) => ({ fill: attributes(match[1]!).fill!, title: match[2]!, value: match[2]!.replace(/^.*: ([^;]*).*$/, "$1") }));
}
const hueOf = (fill: string) => Number(/hsl\((\d+)/.exec(fill)![1]);

describe.runIf(chromium !== undefined || requireBrowser)("the tune report in a real browser", () => {
  it("opens without a network in headless Chromium and draws labelled heat maps with a colour key and a Pareto chart with axes", () => {
    const out = join(work, "browser");
    expect(slamlab("tune", ...small, "--param", "matcher=recent,hashlimit", "--workers", "1", "--out", out).code).toBe(0);
    const dom = renderInBrowser(join(out, "report.html"));
    const charts = [...dom.matchAll(/data-chart="([^"]+)"/g)].map((match) => match[1]);
    expect(charts).toContain("pareto");
    for (const matcher of ["recent", "hashlimit"]) for (const metric of ["attackDelivered", "maxPacketsToBlock", "legitDropped", "legitRegistrationsLost"]) expect(charts).toContain(`heatmap-${matcher}-${metric}`);
    // Every setting is a cell in each of the 6 heat maps and a point on the Pareto chart.
    expect(dom.match(/data-cell=""/g)).toHaveLength(18 * 6);
    expect(dom.match(/data-point=""/g)).toHaveLength(18);
    expect(dom).toContain('data-recommended=""');
    expect(dom).toMatch(/class="verdict ok" data-verdict="recommended"/);
    // The Pareto chart: both axes titled, with ticks and gridlines.
    const pareto = /<svg[^>]*data-chart="pareto"[^>]*>([\s\S]*?)<\/svg>/.exec(dom)![1]!;
    for (const axis of ["x", "y"]) {
      expect(pareto.match(new RegExp(`data-tick="${axis}"`, "g"))!.length, `${axis} ticks`).toBeGreaterThanOrEqual(3);
      expect(pareto.match(new RegExp(`data-grid="${axis}"`, "g"))!.length, `${axis} gridlines`).toBeGreaterThanOrEqual(3);
    }
    expect(pareto).toMatch(/data-axis="x"[^>]*>attack requests reaching the PBX</);
    expect(pareto).toMatch(/data-axis="y"[^>]*>legitimate harm/);
    // Each heat map: hits and window labelled with their values, and a colour key with the values it stands for.
    for (const heatmap of dom.matchAll(/<svg[^>]*data-chart="heatmap-[^"]+"[^>]*>([\s\S]*?)<\/svg>/g)) {
      const svg = heatmap[1]!;
      expect(svg).toMatch(/data-axis="x"[^>]*>window \(seconds\)</);
      expect(svg).toMatch(/data-axis="y"[^>]*>hits</);
      expect(svg).toMatch(/data-tick="y"[^>]*>4</);
      expect(svg).toMatch(/data-tick="x"[^>]*>30</);
      expect(svg).toContain("data-legend");
      expect(svg.match(/data-key-value=""/g)!.length).toBeGreaterThanOrEqual(1);
    }
    expect(dom).toMatch(/<figcaption>recent: attack requests reaching the PBX \(log scale, \d+ to \d+\)/);
  }, 120_000);

  it("shows 36 and 836 attack requests in clearly different colours, next to a setting that lets 12,000 through", () => {
    const dom = reportOf("scale", [
      { hits: 4, seconds: 60, byScenario: { flood: { attackDelivered: 36 } } },
      { hits: 8, seconds: 60, byScenario: { flood: { attackDelivered: 836 } } },
      { hits: 40, seconds: 60, byScenario: { flood: { attackDelivered: 12_000 } } },
    ]);
    const cells = cellsOf(dom, "heatmap-recent-attackDelivered");
    const hue = (value: string) => hueOf(cells.find((cell) => cell.value === value)!.fill);
    expect(hue("36") - hue("836")).toBeGreaterThanOrEqual(30);
    expect(hue("836") - hue("12000")).toBeGreaterThanOrEqual(30);
  }, 60_000);

  it("shows no safe setting as a failure and names the scenario and variant that make each setting unsafe", () => {
    const dom = reportOf("none-safe", [
      { hits: 2, seconds: 60, byScenario: { "register-flood": { legitRegistrationsLost: 1 }, "nat-office [no-allowlist]": { legitRegistrationsLost: 8 } } },
      { hits: 3, seconds: 60, byScenario: { "register-flood": {}, "nat-office [no-allowlist]": { legitRegistrationsLost: 8 } } },
      { hits: 4, seconds: 60, byScenario: { "register-flood": {}, "nat-office [no-allowlist]": { legitRegistrationsLost: 2 } } },
    ]);
    expect(dom).toMatch(/<div class="verdict failure" role="alert" data-verdict="no-safe-setting"><strong>No safe setting<\/strong>/);
    expect(dom).not.toContain('class="verdict ok"');
    expect(dom).not.toContain('data-recommended=""');
    const row = (label: string) => new RegExp(`<tr data-unsafe-scenario="${label.replace(/[[\]]/g, "\\$&")}">([\\s\\S]*?)</tr>`).exec(dom)?.[1];
    expect(row("nat-office [no-allowlist]")).toMatch(/<td>3<\/td><td>8<\/td><td class="settings">recent hits=2-4: 60 s<\/td>/);
    expect(row("register-flood")).toMatch(/<td>1<\/td><td>1<\/td><td class="settings">recent hits=2: 60 s<\/td>/);
    // Hovering a cell names them too.
    expect(cellsOf(dom, "heatmap-recent-legitRegistrationsLost").find((cell) => cell.title.startsWith("recent hits=2 "))!.title).toMatch(/unsafe in register-flood, nat-office \[no-allowlist\]$/);
  }, 60_000);

  it("says a sweep with no attacker has nothing to recommend", () => {
    const none = { attackSent: 0, attackers: 0, maxPacketsToBlock: null, maxSecondsToBlock: null };
    const dom = reportOf("no-attacker", [
      { hits: 4, seconds: 60, byScenario: { "roaming-user": none } },
      { hits: 8, seconds: 60, byScenario: { "roaming-user": none } },
    ]);
    expect(dom).toMatch(/data-verdict="no-attacker"><strong>Nothing to recommend: no attacker<\/strong>no swept scenario has an attacker/);
    expect(dom).not.toContain('data-recommended=""');
  }, 60_000);
});
