import type { RunReport } from "./run-report.js";
import { packetsJudged } from "../verdict/run-result.js";

/**
 * Machine-readable report: everything the terminal shows, plus the ruleset
 * and (optionally) every verdict, one a line. In chunks: a run's verdicts can
 * outgrow the longest string V8 makes (about 512 MiB).
 */
export function* renderJson(report: RunReport, options: { verdicts: boolean }): Generator<string> {
  const { result } = report;
  const document = {
    scenario: result.scenario,
    variant: result.variant,
    engine: result.engine,
    seed: result.seed,
    firewall: report.firewall,
    passed: report.passed,
    warnings: report.warnings ?? [],
    durationUs: result.durationUs,
    wallMs: Math.round(result.wallMs),
    environment: result.environment,
    packetsJudged: packetsJudged(result),
    outcomes: report.outcomes,
    attacks: report.attacks ?? [],
    asteriskLogLines: result.asteriskLogLines ?? null,
    fail2ban: result.fail2ban ? { sets: result.fail2ban.sets, bantimeSeconds: result.fail2ban.bantimeSeconds, bans: result.fail2ban.bans.map((ban) => ({ address: ban.address, atSeconds: ban.atUs / 1_000_000 })) } : null,
    expectations: report.expectations,
    events: result.events,
    rulesetText: result.rulesetText,
    ...(result.artifacts ? { artifacts: result.artifacts } : {}),
  };
  const head = JSON.stringify(document, null, 2);
  if (!options.verdicts) return yield `${head}\n`;
  yield `${head.slice(0, -2)},\n  "verdicts": [`;
  const batch: string[] = [];
  for (let index = 0; index < result.verdicts.length; index++) {
    batch.push(`${index === 0 ? "\n" : ",\n"}    ${JSON.stringify(result.verdicts[index])}`);
    if (batch.length === 4096) yield batch.splice(0).join("");
  }
  yield `${batch.join("")}${result.verdicts.length ? "\n  " : ""}]\n}\n`;
}
