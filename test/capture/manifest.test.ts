import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openCapture } from "../../src/capture/read-capture.js";
import { synthesizeCapture } from "../../src/engines/model/synthesize-capture.js";
import type { SynthKind } from "../../src/engines/model/synth-kinds.js";
import { haveTshark, tsharkPackets } from "../helpers/tshark.js";

const directory = join(import.meta.dirname, "..", "..", "captures");
const manifest = readFileSync(join(directory, "MANIFEST.md"), "utf8");
const files = readdirSync(directory).filter((name) => /\.pcap(ng)?$/.test(name));

/** The packet count the MANIFEST table states for a file. */
function statedCount(name: string): number {
  const row = manifest.split("\n").find((line) => line.startsWith(`| \`${name}\``));
  if (!row) throw new Error(`${name} is not listed in captures/MANIFEST.md`);
  return Number(row.split("|")[2]!.trim().replace(/,/g, ""));
}

async function countPackets(path: string): Promise<number> {
  let packets = 0;
  for await (const _frame of await openCapture(path)) packets++;
  return packets;
}

describe("captures/ and its MANIFEST", () => {
  it.each(files)("%s is listed with its true packet count", async (name) => {
    const path = join(directory, name);
    const count = await countPackets(path);
    expect(statedCount(name)).toBe(count);
    if (haveTshark) expect(tsharkPackets(path)).toHaveLength(count);
  });

  it.each(["svwar", "svcrack", "register-flood", "nat-office"] as SynthKind[])("synth-%s.pcap is what `capture synth` makes today, byte for byte", (kind) => {
    const { bytes } = synthesizeCapture(kind, { seed: 1 });
    expect(Buffer.from(bytes).equals(readFileSync(join(directory, `synth-${kind}.pcap`)))).toBe(true);
  });
});
