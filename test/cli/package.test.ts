import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuild } from "../helpers/ensure-build.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";

/**
 * The package as a user gets it: `npm pack`, then `npm install -g` of the
 * tarball into a prefix of its own (testcontainers, an optional peer, left
 * out as in a model-only install), then the installed `slamlab` run from elsewhere.
 */
const root = join(import.meta.dirname, "..", "..");
const work = scratchDirectory("package");
const prefix = join(work, "prefix");
let files: string[] = [];

beforeAll(() => {
  ensureBuild();
  // dist/ is built already; --ignore-scripts keeps npm from rebuilding it under the other tests.
  const tarball = execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", work, "--silent"], { cwd: root, encoding: "utf8" }).trim().split("\n").pop()!;
  files = execFileSync("tar", ["tzf", join(work, tarball)], { encoding: "utf8" }).trim().split("\n");
  execFileSync("npm", ["install", "-g", "--prefix", prefix, "--no-audit", "--no-fund", "--ignore-scripts", join(work, tarball)], { cwd: work, stdio: "pipe" });
}, 300_000);

const installed = (...args: string[]) => spawnSync(join(prefix, "bin", "slamlab"), args, { cwd: work, encoding: "utf8", env: { ...process.env, DOCKER_HOST: "" } });

describe("the packed package", () => {
  it("ships the compiled CLI, the built-in scenarios and the captures they replay, and no tests or sources", () => {
    expect(files).toContain("package/dist/src/cli/main.js");
    expect(files).toContain("package/bin/slamlab.js");
    expect(files).toContain("package/scenarios/nat-office.yaml");
    expect(files).toContain("package/scenarios/port-reuse-naive.rules");
    expect(files).toContain("package/captures/lab-svwar-asterisk22.pcap");
    expect(files).toContain("package/captures/record/sipp-register.xml");
    expect(files.filter((file) => /^package\/(test|src|bench)\//.test(file))).toEqual([]);
  });

  it("installs with npm install -g and runs the README's main job from anywhere", () => {
    const { status, stdout, stderr } = installed("simulate", "--scenario", "nat-office");
    expect(status, stderr).toBe(0);
    expect(stdout).toContain("PASS  office-phones  registered: all");
    expect(installed("--version").stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed("simulate", "--scenario", "slamming-replay").status).toBe(0);
  });

  it("leaves testcontainers out of a model-only install and says so for --engine docker (exit 3)", () => {
    expect(readdirSync(join(prefix, "lib", "node_modules", "slamlab", "node_modules"))).not.toContain("testcontainers");
    expect(readdirSync(join(prefix, "lib", "node_modules", "slamlab", "node_modules"))).not.toContain("sip.js");
    const { status, stderr } = installed("simulate", "--scenario", "nat-office", "--engine", "docker");
    expect(status).toBe(3);
    expect(stderr).toMatch(/needs the optional dependency testcontainers, which is not installed here.*npm install -g testcontainers@11/);
  });
});

describe("an install from git", () => {
  it("builds the CLI on install (npm runs prepare with the dev dependencies) and runs it", () => {
    // The tree as committed would be, in a repository of its own: npm clones it like a GitHub URL.
    const repository = join(work, "repository");
    const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" }).split("\0").filter((file) => file !== "" && existsSync(join(root, file)));
    for (const file of tracked) cpSync(join(root, file), join(repository, file), { recursive: true });
    const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=slamlab", "-c", "user.email=slamlab@example.invalid", ...args], { cwd: repository, stdio: "pipe" });
    git("init", "-q");
    git("add", "-A");
    git("commit", "-qm", "snapshot");
    expect(existsSync(join(repository, "dist"))).toBe(false);
    const project = join(work, "project");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "uses-slamlab", version: "1.0.0", private: true }));
    execFileSync("npm", ["install", "--no-audit", "--no-fund", `git+file://${repository}`], { cwd: project, stdio: "pipe" });
    const bin = join(project, "node_modules", ".bin", "slamlab");
    expect(existsSync(join(project, "node_modules", "slamlab", "dist", "src", "cli", "main.js"))).toBe(true);
    const { status, stdout, stderr } = spawnSync(bin, ["simulate", "nat-office"], { cwd: project, encoding: "utf8" });
    expect(status, stderr).toBe(0);
    expect(stdout).toContain("PASS  office-phones  registered: all");
  }, 300_000);
});
