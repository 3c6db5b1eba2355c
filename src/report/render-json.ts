import type { RunReport } from "./run-report.js";

/** Machine-readable report: everything the terminal shows, plus the ruleset and (optionally) every verdict. */
export function renderJson(report: RunReport, options: { verdicts: boolean }): string {
  const { result } = report;
  const document = {
    scenario: result.scenario,
    variant: result.variant,
    engine: result.engine,
    seed: result.seed,
    firewall: report.firewall,
    passed: report.passed,
    durationUs: result.durationUs,
    wallMs: Math.round(result.wallMs),
    environment: result.environment,
    packetsJudged: result.verdicts.length,
    outcomes: report.outcomes,
    expectations: report.expectations,
    events: result.events,
    rulesetText: result.rulesetText,
    ...(result.artifacts ? { artifacts: result.artifacts } : {}),
    ...(options.verdicts ? { verdicts: result.verdicts } : {}),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
