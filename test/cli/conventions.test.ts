import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuild } from "../helpers/ensure-build.js";

/** The installed bin as a shell runs it: environment, pipes and terminal width are the point here. */
const root = join(import.meta.dirname, "..", "..");
const slamlab = (args: string[], env: Record<string, string> = {}, shell?: string) => {
  const base: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "", FORCE_COLOR: "", COLUMNS: "", ...env };
  for (const [name, value] of Object.entries(base)) if (value === "") delete base[name];
  return shell
    ? spawnSync("bash", ["-c", shell], { encoding: "utf8", env: { ...base, SLAMLAB: join(root, "bin", "slamlab.js") } })
    : spawnSync(process.execPath, [join(root, "bin", "slamlab.js"), ...args], { encoding: "utf8", env: base });
};

beforeAll(() => ensureBuild(), 120_000);

describe("CLI conventions", () => {
  it("colours only when asked off a TTY (FORCE_COLOR) and never with NO_COLOR, even when forced", () => {
    expect(slamlab(["simulate", "nat-office"]).stdout).not.toContain("\u001b[");
    expect(slamlab(["simulate", "nat-office"], { FORCE_COLOR: "1" }).stdout).toContain("\u001b[32mPASS");
    expect(slamlab(["simulate", "nat-office"], { FORCE_COLOR: "1", NO_COLOR: "1" }).stdout).not.toContain("\u001b[");
  });

  it("fits an 80-column terminal (COLUMNS) and keeps full width when piped", () => {
    for (const args of [["simulate", "nat-office", "--variant", "no-allowlist"], ["scenarios"]]) {
      const narrow = slamlab(args, { COLUMNS: "80" }).stdout.split("\n");
      const tableAndList = narrow.filter((line) => !/^\s+(PASS|FAIL)|^\s{8}\S|^\S.* engine, seed/.test(line));
      expect(tableAndList.filter((line) => [...line].length > 80), args.join(" ")).toEqual([]);
    }
    expect(slamlab(["simulate", "nat-office", "--variant", "no-allowlist"], { COLUMNS: "80" }).stdout).toMatch(/ {2}office-phones\n {4}agents 100 sent 1415 delivered 9 dropped 1406/);
    expect(slamlab(["simulate", "nat-office", "--variant", "no-allowlist"]).stdout).toMatch(/source\s+agents\s+sent\s+delivered\s+dropped\s+first drop\s+to block\s+registered\s+replies dropped/);
  });

  it("takes the scenario as an argument as well as with --scenario", () => {
    const positional = slamlab(["simulate", "nat-office"]);
    expect(positional.status).toBe(0);
    const wallTime = (text: string) => text.replace(/in \d+\.\d+ s,/, "in - s,");
    expect(wallTime(positional.stdout)).toBe(wallTime(slamlab(["simulate", "--scenario", "nat-office"]).stdout));
    expect(positional.stdout).toContain("PASS  nat-office: 2 of 2 expectations met");
    expect(slamlab(["simulate"]).stderr).toMatch(/which scenario\? slamlab simulate NAME\|FILE/);
    expect(slamlab(["simulate", "nat-office", "--scenario", "port-reuse"]).status).toBe(2);
  });

  it.each([["simulate"], ["test"], ["scenarios"], ["firewall", "generate"], ["firewall", "check"], ["capture", "inspect"], ["capture", "synth"], ["images", "build"], ["images", "list"], ["clean"], ["diff"], ["tune"], ["tune", "merge"]])("slamlab %s --help shows an example", (...command) => {
    expect(slamlab([...command, "--help"]).stdout).toMatch(/\nExamples?:/);
  });

  it("every command `slamlab --help` lists answers by its own name (each command loads its own modules only)", () => {
    const listed = [...slamlab(["--help"]).stdout.split("Commands:")[1]!.matchAll(/^ {2}([a-z]+)\b/gm)].map((match) => match[1]!).filter((name) => name !== "help");
    expect(listed).toEqual(expect.arrayContaining(["simulate", "test", "scenarios", "firewall", "capture", "images", "clean", "diff", "tune", "compare"]));
    for (const name of listed) {
      const help = slamlab([name, "--help"]);
      expect(help.status, `${name}: ${help.stderr}`).toBe(0);
      expect(help.stdout).toContain(`Usage: slamlab ${name}`);
    }
    expect(slamlab(["--version"]).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("stops quietly when the reader of its output goes away (| head)", () => {
    const { status, stdout, stderr } = slamlab([], {}, 'node "$SLAMLAB" scenarios | head -1; node "$SLAMLAB" simulate distributed-scan | head -1; echo "exit ${PIPESTATUS[0]}"');
    expect(stdout).toMatch(/^blf-subscribe .*\ndistributed-scan\nexit 0\n$/);
    expect(stderr).toBe("");
    expect(status).toBe(0);
  });
});
