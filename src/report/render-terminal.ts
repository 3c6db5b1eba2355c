import { packetsJudged } from "../verdict/run-result.js";
import { describeAttack } from "../verdict/attack-outcome.js";
import type { SourceOutcome } from "../verdict/outcome.js";
import { runLabel, type RunReport } from "./run-report.js";

interface Style {
  bold(text: string): string;
  dim(text: string): string;
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
}

const ansi = (code: number) => (text: string) => `\u001b[${code}m${text}\u001b[0m`;
const colored: Style = { bold: ansi(1), dim: ansi(2), green: ansi(32), red: ansi(31), yellow: ansi(33) };
const plain: Style = { bold: (t) => t, dim: (t) => t, green: (t) => t, red: (t) => t, yellow: (t) => t };

const secondsText = (us: number | null) => (us === null ? "-" : `${(us / 1_000_000).toFixed(2)} s`);

/** The report a user reads in a terminal: per-source table, shared-address trade-offs, PASS/FAIL per expectation. */
/** Bans listed by address in the terminal; the JSON has them all. */
const MAX_BANS_SHOWN = 10;

export function renderTerminal(report: RunReport, options: { color: boolean; width?: number }): string {
  const style = options.color ? colored : plain;
  const { result } = report;
  const lines: string[] = [];
  lines.push(style.bold(runLabel(report)));
  lines.push(
    style.dim(
      `${result.engine} engine, seed ${result.seed}, firewall ${report.firewall}, ${secondsText(result.durationUs)} of traffic in ${(result.wallMs / 1000).toFixed(2)} s, ${packetsJudged(result)} packets judged`,
    ),
  );
  const environment = result.environment;
  if (environment.asterisk) {
    lines.push(
      style.dim(
        `${environment.asterisk}; ${environment.iptables ?? "iptables ?"}; kernel ${environment.kernel ?? "?"}; ${sendError(environment)}; Asterisk contacts: ${environment["asterisk contacts"]}${environment["asterisk cpu (s)"] ? `; Asterisk used ${environment["asterisk cpu (s)"]} s of CPU` : ""}`,
      ),
    );
  }
  if (report.warnings?.length) {
    lines.push("", style.bold("Warnings: rules this scenario cannot test"));
    for (const warning of report.warnings) lines.push(`  ${style.yellow(warning)}`);
  }
  lines.push("");
  lines.push(...table(report.outcomes, options.width ?? Number.POSITIVE_INFINITY));

  const rules = dropRules(report.outcomes);
  if (rules.length) {
    lines.push("", style.bold("Rules that dropped"));
    for (const [rule, { comment, count }] of rules) lines.push(`  ${rule.padEnd(16)} ${String(count).padStart(7)}  ${comment ?? ""}`);
  }

  // Whether the attack worked comes before what the firewall did about it.
  if (report.attacks?.length) {
    lines.push("", style.bold("Attack outcome"));
    for (const attack of report.attacks) {
      const line = describeAttack(attack, secondsText);
      lines.push(`  ${attack.won ? style.red(line) : line}`);
    }
  } else {
    const found = report.outcomes.flatMap((outcome) => outcome.passwordsFound.map((find) => ({ source: outcome.source, ...find })));
    if (found.length) {
      lines.push("", style.bold("Attack outcome: passwords found"));
      for (const find of found) lines.push(`  ${style.red(`${find.source} found the password of ${find.account}`)} at ${secondsText(find.atUs)}: ${find.detail}`);
    }
  }
  const stopped = report.outcomes.filter((outcome) => outcome.gaveUp !== null);
  if (stopped.length) {
    lines.push("", style.bold("Attackers that gave up (nothing answered them)"));
    for (const { source, agents, gaveUp } of stopped) {
      lines.push(`  ${source}: ${gaveUp!.addresses} of ${agents} address${agents === 1 ? "" : "es"} stopped, the first at ${secondsText(gaveUp!.firstAtUs)} (${gaveUp!.firstDetail})`);
    }
  }

  const bans = report.result.fail2ban?.bans;
  if (bans) {
    lines.push("", style.bold("fail2ban"));
    const logged = report.result.asteriskLogLines;
    const read = logged === undefined ? "" : ` from ${logged} line${logged === 1 ? "" : "s"} of failed requests in Asterisk's log`;
    if (bans.length === 0) lines.push(`  banned no address${read}`);
    else {
      lines.push(`  banned ${bans.length} address${bans.length === 1 ? "" : "es"}${read}:`);
      const shown = bans.slice(0, MAX_BANS_SHOWN);
      lines.push(`  ${shown.map((ban) => `${ban.address} at ${secondsText(ban.atUs)}`).join(", ")}${bans.length > shown.length ? `, and ${bans.length - shown.length} more (--json lists them)` : ""}`);
    }
  }

  const shared = sharedAddressNotes(report.outcomes);
  if (shared.length) {
    lines.push("", style.bold("Shared addresses (one NAT, one fate)"));
    for (const note of shared) lines.push(`  ${style.yellow(note)}`);
  }

  lines.push("", style.bold("Expectations"));
  for (const expectation of report.expectations) {
    const mark = expectation.passed ? style.green("PASS") : style.red("FAIL");
    lines.push(`  ${mark}  ${expectation.source}  ${expectation.clause}  ${style.dim(`(${expectation.actual})`)}`);
    if (expectation.because) lines.push(`        ${style.dim(expectation.because)}`);
  }
  const failed = report.expectations.filter((expectation) => !expectation.passed).length;
  const verdict = report.passed ? style.green("PASS") : style.red("FAIL");
  lines.push("", `${verdict}  ${runLabel(report)}: ${report.expectations.length - failed} of ${report.expectations.length} expectations met`);
  return `${lines.join("\n")}\n`;
}

/** The per-source table; narrower than its columns, each source becomes a block of "name value" pairs wrapped to the width. */
function table(outcomes: readonly SourceOutcome[], width: number): string[] {
  const header = ["source", "agents", "sent", "delivered", "dropped", "first drop", "to block", "registered", "replies dropped"];
  const rows = outcomes.map((outcome) => [
    outcome.source,
    String(outcome.agents),
    String(outcome.sent),
    String(outcome.delivered),
    String(outcome.dropped),
    secondsText(outcome.firstDropUs),
    outcome.packetsToBlock === null ? "-" : `${outcome.packetsToBlock} pkts, ${secondsText(outcome.timeToBlockUs)}`,
    `${outcome.registeredAgents}/${outcome.agents}`,
    String(outcome.repliesDropped),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const format = (row: string[]) => `  ${row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ")}`;
  if (2 + widths.reduce((sum, columnWidth) => sum + columnWidth + 2, -2) <= width) return [format(header), format(widths.map((columnWidth) => "-".repeat(columnWidth))), ...rows.map(format)];
  const blocks: string[] = [];
  for (const row of rows) {
    blocks.push(`  ${row[0]}`);
    let line = "   ";
    for (let column = 1; column < header.length; column++) {
      const pair = ` ${header[column]} ${row[column]}`;
      if (line.length + pair.length > width && line.trim()) {
        blocks.push(line);
        line = "   ";
      }
      line += pair;
    }
    blocks.push(line);
  }
  return blocks;
}

function dropRules(outcomes: readonly SourceOutcome[]): Array<[string, { comment?: string; count: number }]> {
  const rules = new Map<string, { comment?: string; count: number }>();
  for (const outcome of outcomes) {
    for (const entry of outcome.dropsByRule) {
      const known = rules.get(entry.rule);
      if (known) known.count += entry.count;
      else rules.set(entry.rule, { ...(entry.comment ? { comment: entry.comment } : {}), count: entry.count });
    }
  }
  return [...rules].sort((a, b) => b[1].count - a[1].count);
}

/** Where sources share a public address and one of them got it blocked, say who paid for whom. */
export function sharedAddressNotes(outcomes: readonly SourceOutcome[]): string[] {
  const notes: string[] = [];
  const byAddress = new Map<string, SourceOutcome[]>();
  for (const outcome of outcomes) {
    for (const address of outcome.addresses) byAddress.set(address.address, [...(byAddress.get(address.address) ?? []), outcome]);
  }
  for (const [address, sharing] of byAddress) {
    if (sharing.length < 2) continue;
    const names = sharing.map((outcome) => outcome.source);
    const droppedBy = sharing.map((outcome) => ({ outcome, entry: outcome.addresses.find((a) => a.address === address)! }));
    const blocked = droppedBy.filter(({ entry }) => entry.firstDropUs !== null);
    if (blocked.length === 0) {
      notes.push(`${address} is shared by ${names.join(", ")}; none of them was blocked`);
      continue;
    }
    const first = blocked.reduce((a, b) => (b.entry.firstDropUs! < a.entry.firstDropUs! ? b : a));
    const collateral = blocked.filter((item) => item !== first).map(({ outcome, entry }) => `${outcome.source} lost ${entry.dropped} packets`);
    notes.push(
      `${address} is shared by ${names.join(", ")}: blocked first on ${first.outcome.source}'s traffic at ${secondsText(first.entry.firstDropUs)}` +
        (collateral.length ? `; collateral: ${collateral.join(", ")}` : ""),
    );
  }
  return notes;
}

/** Paced sends' lateness, or why there is none: real tools time their own packets. */
function sendError(environment: Readonly<Record<string, string>>): string {
  const p50 = environment["send error p50 (µs)"];
  if (p50 === undefined || !/^\d+$/.test(p50)) return "send-time error not measured (no paced sends: real tools keep their own time)";
  return `send-time error p50 ${p50} µs, p99 ${environment["send error p99 (µs)"]} µs`;
}
