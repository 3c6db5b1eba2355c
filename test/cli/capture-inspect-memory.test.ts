import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeFloodCapture } from "../../src/capture/flood-capture.js";
import { ensureBuild } from "../helpers/ensure-build.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";

const root = join(import.meta.dirname, "..", "..");

describe("capture inspect's memory", () => {
  it("is bounded by the sources, not the packets: 400,000 REGISTERs from 1,000 addresses inspected and judged in a 64 MB heap", async () => {
    ensureBuild();
    const path = join(scratchDirectory("inspect-memory"), "flood.pcap");
    await writeFloodCapture(path, 400_000, 1_000);
    // Holding a copy of each request (about 400 bytes apiece) needs some 160 MB of heap: V8 would abort.
    const inspected = spawnSync(process.execPath, ["--max-old-space-size=64", join(root, "bin", "slamlab.js"), "capture", "inspect", path, "--json"], { encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
    expect(inspected.status, inspected.stderr.slice(-500)).toBe(0);
    const summary = JSON.parse(inspected.stdout) as { packets: number; sipRequests: Record<string, number>; sources: Array<{ registers: number; peakRegistersPerMinute: number; blocked: unknown }> };
    expect(summary.packets).toBe(400_000);
    expect(summary.sipRequests).toEqual({ REGISTER: 400_000 });
    expect(summary.sources).toHaveLength(1_000);
    // One REGISTER a second from each address: 60 within any minute, under the default policy's limit.
    expect(summary.sources.every((source) => source.registers === 400 && source.peakRegistersPerMinute === 60 && source.blocked === null)).toBe(true);
  }, 120_000);
});
