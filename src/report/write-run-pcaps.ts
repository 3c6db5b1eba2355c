import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { pcapngFile } from "../capture/pcapng-writer.js";
import type { RunResult } from "../verdict/run-result.js";
import type { Verdict } from "../verdict/verdict.js";
import { ruleName } from "../verdict/outcomes.js";
import { writeFileAtomic } from "./write-file-atomic.js";

/** The run starts at this wall-clock instant in the written captures, so files are reproducible. */
const CAPTURE_EPOCH_US = Date.UTC(2026, 0, 1) * 1000;

function comment(verdict: Verdict): string {
  const rule = `${ruleName(verdict.rule)} ${verdict.rule.target}${verdict.rule.comment ? ` "${verdict.rule.comment}"` : ""}`;
  return `slamlab: ${verdict.verdict} by ${rule}; source ${verdict.source}, agent ${verdict.agent}, ct ${verdict.ctState}`;
}

/** delivered.pcapng and dropped.pcapng: every judged packet, with its verdict and rule as the packet comment. */
export async function writeRunPcaps(result: RunResult, directory: string): Promise<string[]> {
  if (!result.packets) throw new Error("the run kept no packet bytes; run with keepPackets");
  await mkdir(directory, { recursive: true });
  const written: string[] = [];
  for (const verdictKind of ["delivered", "dropped"] as const) {
    const packets = result.verdicts
      .filter((verdict) => verdict.verdict === verdictKind)
      .map((verdict) => ({ timestampUs: CAPTURE_EPOCH_US + verdict.atUs, bytes: result.packets![verdict.packetId]!, comment: comment(verdict) }));
    const path = join(directory, `${verdictKind}.pcapng`);
    await writeFileAtomic(path, pcapngFile(packets));
    written.push(path);
  }
  return written;
}
