import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { cleanLab } from "../../../src/engines/docker/clean-lab.js";
import { WATCHDOG_SECONDS } from "../../../src/engines/docker/run-heartbeat.js";
import { dockerRuntime, LABEL_APP, LABEL_RUN } from "../../../src/engines/docker/docker-runtime.js";
import { buildLabImage } from "../../../src/engines/docker/lab-image.js";
import { LABEL_OWNER, ownerOfThisProcess } from "../../../src/engines/docker/run-owner.js";
import { ensureBuild } from "../../helpers/ensure-build.js";
import { scratchDirectory } from "../../helpers/scratch-directory.js";
import { dockerAvailable, requireDocker } from "../../helpers/docker-available.js";

/**
 * A docker run's life from outside: `slamlab clean` in another shell, kill -9
 * and Ctrl-C. CI sets SLAMLAB_REQUIRE_DOCKER=1; elsewhere these skip without
 * a Docker engine.
 */
const available = await dockerAvailable("docker run lifecycle tests");
const root = join(import.meta.dirname, "..", "..", "..");
const work = scratchDirectory("lifecycle");
let image = "";

/** A flood long enough to be killed in the middle of. */
const scenarioFile = join(work, "long-flood.yaml");
writeFileSync(
  scenarioFile,
  `name: long-flood
description: a scanner that keeps going, to be interrupted
durationSeconds: 120
firewall: { policy: default }
hosts:
  scanner: { kind: addresses, addresses: [198.18.66.6] }
traffic:
  - { name: flood, kind: register-flood, host: scanner, ratePps: 50, durationSeconds: 120, giveUpSeconds: 0 }
expect: [{ source: flood, blockedWithinPackets: 10 }]
`,
);

async function containersOf(runId: string) {
  const runtime = await dockerRuntime();
  return runtime.container.dockerode.listContainers({ all: true, filters: { label: [`${LABEL_RUN}=${runId}`] } });
}

/** Starts `slamlab simulate --engine docker` and resolves with its run id once its traffic runners are sending. */
async function startRun(): Promise<{ child: ChildProcess; runId: string; stderr: () => string }> {
  const before = new Set(readdirSync(tmpdir()));
  const child = spawn(process.execPath, [join(root, "bin", "slamlab.js"), "simulate", "--scenario", scenarioFile, "--engine", "docker"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += String(chunk)));
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const folder = readdirSync(tmpdir()).find((name) => !before.has(name) && /^slamlab-[0-9a-f]{8}-/.test(name));
    if (folder && existsSync(join(tmpdir(), folder, "start.json"))) return { child, runId: folder.slice(8, 16), stderr: () => stderr };
    if (child.exitCode !== null) throw new Error(`the run ended before it started sending: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  child.kill("SIGKILL");
  throw new Error(`the run did not start sending within 120 s: ${stderr}`);
}

/** How many traffic runners a container still runs (node names its main thread MainThread, so by command line). */
async function runnersIn(containerId: string): Promise<number> {
  const runtime = await dockerRuntime();
  const exec = await runtime.container.dockerode.getContainer(containerId).exec({ Cmd: ["sh", "-c", "ps -e -o args= | grep -c '^node .*agent-runner' || true"], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  const output = await new Promise<string>((resolve) => {
    let text = "";
    stream.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
    stream.on("end", () => resolve(text));
  });
  return Number(/(\d+)\s*$/.exec(output)?.[1] ?? "0");
}

describe.runIf(available || requireDocker)("docker runs seen from outside: clean, kill -9, Ctrl-C", () => {
  beforeAll(async () => {
    expect(available, "SLAMLAB_REQUIRE_DOCKER=1 but no Docker engine answers").toBe(true);
    ensureBuild();
    image = (await buildLabImage()).tag;
  }, 600_000);

  it("slamlab clean removes a run whose process is gone and leaves a live one alone unless --force", async () => {
    const runtime = await dockerRuntime();
    const dockerode = runtime.container.dockerode;
    const gone = spawnSync("true").pid;
    const runs = { live: "a1a1a1a1", dead: "d0d0d0d0" };
    const owners = { live: ownerOfThisProcess(), dead: `${hostname()}:${gone}:1` };
    for (const kind of ["live", "dead"] as const) {
      const container = await dockerode.createContainer({ Image: image, Cmd: ["sleep", "infinity"], Labels: { [LABEL_APP]: "slamlab", [LABEL_RUN]: runs[kind], [LABEL_OWNER]: owners[kind] } });
      await container.start();
    }
    const cleaned = await cleanLab(undefined, image);
    expect(cleaned.liveRuns).toEqual([{ runId: runs.live, owner: owners.live }]);
    expect(await containersOf(runs.dead)).toHaveLength(0);
    expect(await containersOf(runs.live)).toHaveLength(1);
    const forced = await cleanLab(undefined, image, { force: true });
    expect(forced.liveRuns).toEqual([]);
    expect(await containersOf(runs.live)).toHaveLength(0);
  }, 120_000);

  it("after kill -9 the traffic containers stop sending within seconds, and slamlab clean removes the rest", async () => {
    const { child, runId } = await startRun();
    const traffic = (await containersOf(runId)).find((info) => info.Names.some((name) => name.includes("traffic")))!;
    const sending = await runnersIn(traffic.Id);
    child.kill("SIGKILL");
    expect(sending).toBeGreaterThan(0);
    const killedAt = Date.now();
    let runners = 1;
    while (runners > 0 && Date.now() - killedAt < (WATCHDOG_SECONDS + 15) * 1000) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      runners = await runnersIn(traffic.Id);
    }
    expect(runners).toBe(0);
    expect(Date.now() - killedAt).toBeLessThan((WATCHDOG_SECONDS + 10) * 1000);
    const clean = spawnSync(process.execPath, [join(root, "bin", "slamlab.js"), "clean"], { encoding: "utf8" });
    expect(clean.status, clean.stderr).toBe(0);
    expect(await containersOf(runId)).toHaveLength(0);
    expect(readdirSync(tmpdir()).some((name) => name.startsWith(`slamlab-${runId}-`))).toBe(false);
  }, 240_000);

  it("Ctrl-C removes the run's lab and says what it removed", async () => {
    const { child, runId, stderr } = await startRun();
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(stderr()).toMatch(new RegExp(`SIGINT: stopping run ${runId}`));
    expect(stderr()).toMatch(new RegExp(`removed run ${runId}: \\d+ containers, \\d+ networks, its bridge rules on the Docker host and its temp folder`));
    expect(await containersOf(runId)).toHaveLength(0);
  }, 240_000);
});
