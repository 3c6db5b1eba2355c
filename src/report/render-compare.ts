import { bestDefence, type DefenceRun, type DefenceSummary } from "../compare/compare-defences.js";
import { defenceDescriptions, type DefenceName } from "../compare/defences.js";
import { ASTERISK_CPU_US_PER_REQUEST } from "../verdict/pbx-cost.js";

/** A comparison as `slamlab compare` writes it (compare.json). */
export interface CompareReport {
  readonly format: "slamlab-compare/1";
  readonly engine: "model" | "docker";
  readonly defences: readonly DefenceName[];
  readonly scenarios: readonly string[];
  readonly summaries: readonly DefenceSummary[];
  readonly runs: readonly DefenceRun[];
  readonly best: { readonly defence: DefenceName; readonly reason: string } | null;
}

export function compareReport(engine: CompareReport["engine"], defences: readonly DefenceName[], runs: readonly DefenceRun[], summaries: readonly DefenceSummary[]): CompareReport {
  return { format: "slamlab-compare/1", engine, defences, scenarios: [...new Set(runs.map((run) => run.scenario))], summaries, runs, best: bestDefence(summaries) };
}

/** The columns every table of the comparison shows, terminal and HTML alike. */
export const compareColumns: ReadonlyArray<{ readonly title: string; readonly cell: (row: DefenceRun | DefenceSummary) => string }> = [
  { title: "passwords found", cell: (row) => String(row.passwordsFound) },
  { title: "calls reached", cell: (row) => String(row.callsReached) },
  { title: "attack reaching the PBX", cell: (row) => `${row.metrics.attackDelivered} of ${row.metrics.attackSent}` },
  { title: "worst time to block", cell: (row) => (row.metrics.maxSecondsToBlock === null ? "-" : `${row.metrics.maxSecondsToBlock.toFixed(1)} s`) + (row.metrics.attackersNeverBlocked ? ` (${row.metrics.attackersNeverBlocked} never)` : "") },
  { title: "phones never registered", cell: (row) => `${row.metrics.legitRegistrationsLost} of ${row.metrics.legitAgents}` },
  { title: "legitimate requests dropped", cell: (row) => String(row.metrics.legitDropped) },
  { title: "requests Asterisk handled", cell: (row) => String(row.pbxRequests) },
  { title: "Asterisk log lines", cell: (row) => String(row.asteriskLogLines) },
  // "~": estimated from the lab's measured cost per request; without it, measured.
  { title: "Asterisk CPU", cell: (row) => `${row.pbxCpuMeasured ? "" : "~"}${(row.pbxCpuMs / 1000).toFixed(2)} s` },
  { title: "attackers that gave up", cell: (row) => String(row.attackersGaveUp) },
];

function table(labels: readonly string[], rows: ReadonlyArray<DefenceRun | DefenceSummary>): string[] {
  const header = ["defence", ...compareColumns.map((column) => column.title)];
  const cells = rows.map((row, index) => [labels[index]!, ...compareColumns.map((column) => column.cell(row))]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((line) => line[column]!.length)));
  const format = (line: readonly string[]) => `  ${line.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ")}`.trimEnd();
  return [format(header), ...cells.map(format)];
}

export function renderCompareTerminal(report: CompareReport): string {
  const lines = [`slamlab compare: ${report.scenarios.length} scenario${report.scenarios.length === 1 ? "" : "s"} under ${report.defences.length} defences on the ${report.engine} engine`, ""];
  for (const defence of report.defences) lines.push(`  ${defence.padEnd(11)} ${defenceDescriptions[defence]}`);
  if (report.scenarios.length > 1) {
    for (const scenario of report.scenarios) {
      const runs = report.runs.filter((run) => run.scenario === scenario);
      lines.push("", scenario, ...table(runs.map((run) => run.defence), runs));
    }
    lines.push("", "All scenarios together");
  } else {
    lines.push("");
  }
  lines.push(...table(report.summaries.map((summary) => summary.defence), report.summaries));
  lines.push("", "ranked by passwords found, then calls reaching the dialplan, then phones never registered, then attack requests reaching the PBX, then legitimate requests dropped");
  if (report.summaries.some((summary) => !summary.pbxCpuMeasured)) lines.push(`~: Asterisk's CPU estimated from its cost per request measured in the lab (${ASTERISK_CPU_US_PER_REQUEST.challenge} µs a challenge, ${ASTERISK_CPU_US_PER_REQUEST.failedAuthentication} µs a failed password, ${ASTERISK_CPU_US_PER_REQUEST.iax2Frame} µs an IAX2 frame); the docker engine measures it`);
  lines.push(report.best ? `best: ${report.best.defence}: ${report.best.reason}` : "nothing compared");
  return `${lines.join("\n")}\n`;
}
