import type { RunMetrics } from "../verdict/run-metrics.js";
import type { SweepReport } from "../tune/sweep-report.js";

const columns: ReadonlyArray<[string, (metrics: RunMetrics) => number | null]> = [
  ["attack_delivered", (m) => m.attackDelivered],
  ["attack_sent", (m) => m.attackSent],
  ["attackers", (m) => m.attackers],
  ["attackers_never_blocked", (m) => m.attackersNeverBlocked],
  ["max_seconds_to_block", (m) => m.maxSecondsToBlock],
  ["max_packets_to_block", (m) => m.maxPacketsToBlock],
  ["legit_agents", (m) => m.legitAgents],
  ["legit_registrations_lost", (m) => m.legitRegistrationsLost],
  ["legit_dropped", (m) => m.legitDropped],
  ["legit_seconds_blocked", (m) => m.legitSecondsBlocked],
  ["passwords_found", (m) => m.passwordsFound],
];

const quote = (text: string) => (/[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);

/** One row per setting and scenario, plus an "ALL" row per setting; empty cells where an attacker was never blocked. */
export function renderTuneCsv(report: SweepReport): string {
  const lines = [["matcher", "hits", "seconds", "scenario", ...columns.map(([name]) => name), "unsafe"].join(",")];
  for (const result of report.results) {
    const rows: Array<[string, RunMetrics]> = [["ALL", result.total], ...Object.entries(result.byScenario)];
    for (const [scenario, metrics] of rows) {
      const values = columns.map(([, pick]) => {
        const value = pick(metrics);
        return value === null ? "" : String(Number.isInteger(value) ? value : value.toFixed(3));
      });
      lines.push([result.setting.matcher, result.setting.hits, result.setting.seconds, quote(scenario), ...values, metrics.legitRegistrationsLost > 0 ? "1" : "0"].join(","));
    }
  }
  return `${lines.join("\n")}\n`;
}
