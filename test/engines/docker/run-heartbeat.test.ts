import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { startHeartbeat } from "../../../src/engines/docker/run-heartbeat.js";

describe("the run's heartbeat in the lab folder", () => {
  const uncaught: unknown[] = [];
  const record = (error: unknown) => uncaught.push(error);
  afterEach(() => {
    process.removeListener("uncaughtException", record);
    uncaught.length = 0;
  });

  it("counts up while the run lives, which is what the traffic containers' watchdog reads", async () => {
    const folder = mkdtempSync(join(tmpdir(), "heartbeat-"));
    const heartbeat = startHeartbeat(folder, 10);
    const first = Number(readFileSync(join(folder, "heartbeat"), "utf8"));
    await sleep(60);
    heartbeat.stop();
    expect(Number(readFileSync(join(folder, "heartbeat"), "utf8"))).toBeGreaterThan(first);
    rmSync(folder, { recursive: true });
  });

  it("ends, without crashing slamlab, when a SIGTERM's cleanup removes the folder under it", async () => {
    process.on("uncaughtException", record);
    const folder = mkdtempSync(join(tmpdir(), "heartbeat-"));
    startHeartbeat(folder, 10);
    rmSync(folder, { recursive: true });
    await sleep(60);
    expect(uncaught).toEqual([]);
  });

  it("started on a folder already removed (the lab finished starting after the stop), never beats", async () => {
    process.on("uncaughtException", record);
    const folder = mkdtempSync(join(tmpdir(), "heartbeat-"));
    rmSync(folder, { recursive: true });
    startHeartbeat(folder, 10).stop();
    await sleep(30);
    expect(uncaught).toEqual([]);
  });
});
