import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ValidationRun } from "../../src/tune/validate-on-docker.js";
import { ensureBuild } from "../helpers/ensure-build.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";
import { dockerAvailable } from "../helpers/docker-available.js";

const available = await dockerAvailable("tune --validate docker");
const root = join(import.meta.dirname, "..", "..");

describe.runIf(available)("slamlab tune --validate docker", () => {
  it("reruns the recommended setting and its neighbours in the kernel and reports whether the verdicts hold", () => {
    ensureBuild();
    const directory = scratchDirectory("validate");
    writeFileSync(
      join(directory, "flood-and-phone.yaml"),
      [
        "name: flood-and-phone",
        "description: a scanner and a phone on their own addresses",
        "durationSeconds: 12",
        "firewall: { policy: default }",
        "pbx: { accounts: [{ users: 200-209, password: 'validate-{user}-Secret' }] }",
        "hosts: { scanner: { kind: addresses, addresses: [198.18.77.7] }, desk: { kind: addresses, addresses: [198.18.20.20] } }",
        "traffic:",
        "  - { name: flood, kind: register-flood, host: scanner, ratePps: 10, durationSeconds: 8, startSeconds: 1, onAnswerLikeRandom: walk-on }",
        "  - { name: phone, kind: phones, host: desk, accounts: 201-201, startSeconds: 2 }",
        "expect:",
        "  - { source: phone, registered: all, neverBlocked: true }",
        "",
      ].join("\n"),
    );
    const out = join(directory, "out");
    const result = spawnSync(
      process.execPath,
      [join(root, "bin", "slamlab.js"), "tune", "--scenarios", join(directory, "flood-and-phone.yaml"), "--param", "hits=4..8:2", "--param", "seconds=5,10", "--workers", "1", "--validate", "docker", "--out", out],
      { encoding: "utf8" },
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/validating recent hits=\d+ seconds=\d+/);
    expect(result.stdout).toContain("validation: the kernel agrees with the model on every rerun");
    const runs = JSON.parse(readFileSync(join(out, "validation.json"), "utf8")) as ValidationRun[];
    expect(runs.length).toBeGreaterThanOrEqual(3);
    for (const run of runs) {
      expect(run.paired).toBeGreaterThan(0);
      expect(run.semantic).toBe(0);
      expect(run.kernelSafe).toBe(run.modelSafe);
    }
  }, 15 * 60_000);
});
