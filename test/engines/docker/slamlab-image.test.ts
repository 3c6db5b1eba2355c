import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { dockerRuntime } from "../../../src/engines/docker/docker-runtime.js";
import { buildLabImage } from "../../../src/engines/docker/lab-image.js";
import { ensureBuild } from "../../helpers/ensure-build.js";
import { scratchDirectory } from "../../helpers/scratch-directory.js";

/**
 * The repository's Dockerfile as its comment says to use it: the package
 * staged with npm, the image built on the lab image (Debian sid with Node; no registry
 * here), and `slamlab test` run inside it on the built-in scenarios.
 */
const requireDocker = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
const available = await dockerRuntime().then(
  () => spawnSync("docker", ["version"], { encoding: "utf8" }).status === 0,
  () => false,
);
if (!available && !requireDocker) console.log("skipping the slamlab image check: it needs a Docker engine and the docker CLI");
const root = join(import.meta.dirname, "..", "..", "..");
const tag = `slamlab-self-test:${process.pid}`;

describe.runIf(available || requireDocker)("slamlab's own container image", () => {
  beforeAll(async () => {
    expect(available, "SLAMLAB_REQUIRE_DOCKER=1 but no Docker engine or docker CLI").toBe(true);
    ensureBuild();
    const base = (await buildLabImage()).tag;
    const work = scratchDirectory("self-image");
    const tarball = execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", work, "--silent"], { cwd: root, encoding: "utf8" }).trim().split("\n").pop()!;
    const context = join(work, "image");
    mkdirSync(join(context, "usr", "local"), { recursive: true });
    execFileSync("npm", ["install", "-g", "--prefix", join(context, "usr", "local"), "--no-audit", "--no-fund", "--ignore-scripts", join(work, tarball)], { stdio: "pipe" });
    copyFileSync(join(root, "Dockerfile"), join(context, "Dockerfile"));
    execFileSync("docker", ["build", "-q", "-t", tag, "--build-arg", `BASE=${base}`, context], { stdio: "pipe" });
  }, 600_000);

  it("runs slamlab test on mounted scenarios and writes the JUnit report there", () => {
    const scenarios = scratchDirectory("self-image-scenarios");
    for (const name of ["nat-office.yaml", "port-reuse.yaml", "port-reuse-naive.rules"]) copyFileSync(join(root, "scenarios", name), join(scenarios, name));
    const run = spawnSync("docker", ["run", "--rm", "--network", "none", "-v", `${scenarios}:/scenarios`, tag, "test", "/scenarios", "--quiet", "--junit", "/scenarios/out/junit.xml"], { encoding: "utf8" });
    spawnSync("docker", ["rmi", "-f", tag]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain("4 scenario runs passed, 0 failed");
    expect(spawnSync("ls", [join(scenarios, "out", "junit.xml")]).status).toBe(0);
  }, 120_000);
});
