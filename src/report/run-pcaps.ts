import { join } from "node:path";
import { pcapngFile } from "../capture/pcapng-writer.js";
import type { RunResult } from "../verdict/run-result.js";
import type { Verdict } from "../verdict/verdict.js";
import { ruleName } from "../verdict/outcomes.js";
import type { OutputTarget } from "./output-files.js";

/** The run starts at this wall-clock instant in the written captures, so files are reproducible. */
const CAPTURE_EPOCH_US = Date.UTC(2026, 0, 1) * 1000;

function comment(verdict: Verdict): string {
  const rule = `${ruleName(verdict.rule)} ${verdict.rule.target}${verdict.rule.comment ? ` "${verdict.rule.comment}"` : ""}`;
  return `slamlab: ${verdict.verdict} by ${rule}; source ${verdict.source}, agent ${verdict.agent}, ct ${verdict.ctState}`;
}

const PCAP_KINDS = ["delivered", "dropped"] as const;

/** The files `--pcap-dir DIR` writes, in the order runPcaps returns their bytes. */
export function runPcapTargets(directory: string): OutputTarget[] {
  return PCAP_KINDS.map((kind) => ({ flag: "--pcap-dir", path: join(directory, `${kind}.pcapng`) }));
}

/** delivered.pcapng and dropped.pcapng: every judged packet, with its verdict and rule as the packet comment. */
export function runPcaps(result: RunResult): Uint8Array[] {
  if (!result.packets) throw new Error("the run kept no packet bytes; run with keepPackets");
  return PCAP_KINDS.map((verdictKind) =>
    pcapngFile(
      result.verdicts
        .filter((verdict) => verdict.verdict === verdictKind)
        .map((verdict) => ({ timestampUs: CAPTURE_EPOCH_US + verdict.atUs, bytes: result.packets![verdict.packetId]!, comment: comment(verdict) })),
    ),
  );
}
