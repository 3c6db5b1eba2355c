import { renderTerminal } from "./render-terminal.js";
import { runLabel, type RunReport } from "./run-report.js";

/** A scenario (or one of its variants) that did not load: reported as that run's JUnit <error>. */
export interface LoadFailure {
  readonly file: string;
  readonly variant: string | null;
  /** The error's code (SCENARIO_INVALID, RULESET_NOT_FOUND, ...) and message, as the CLI prints them. */
  readonly code: string;
  readonly message: string;
}

function escapeXml(text: string): string {
  // XML 1.0 has no way to write most control characters, even escaped.
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "").replace(/[<>&"']/g, (char) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[char]!);
}

const attributes = (values: Record<string, string | number>) =>
  Object.entries(values)
    .map(([name, value]) => `${name}="${escapeXml(String(value))}"`)
    .join(" ");

/** The class GitHub Actions, GitLab and Jenkins group testcases by: the scenario, then its variant. */
const classnameOf = (scenario: string, variant: string | null) => `slamlab.${scenario}${variant ? `.${variant}` : ""}`;

/**
 * JUnit XML as GitHub Actions (test reporters), GitLab and Jenkins read it:
 * one <testsuite> per scenario run and one <testcase> per expectation
 * clause, with classname, file and time (the run's wall time shared among
 * its expectations, so the suite's time adds up). A failed expectation is a
 * <failure type="ExpectationFailed"> whose body says what was expected, what
 * happened and why the operator wanted it; the run's summary is the suite's
 * <system-out>. A scenario that did not load is a suite with one <error>.
 */
export function renderJunit(reports: readonly RunReport[], loadFailures: readonly LoadFailure[] = []): string {
  const failures = reports.reduce((sum, report) => sum + report.expectations.filter((e) => !e.passed).length, 0);
  const tests = reports.reduce((sum, report) => sum + report.expectations.length, 0) + loadFailures.length;
  const totalSeconds = reports.reduce((sum, report) => sum + report.result.wallMs / 1000, 0);
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites ${attributes({ name: "slamlab", tests, failures, errors: loadFailures.length, time: totalSeconds.toFixed(3) })}>`];
  for (const report of reports) {
    const { result } = report;
    const suiteFailures = report.expectations.filter((e) => !e.passed).length;
    const seconds = result.wallMs / 1000;
    const classname = classnameOf(result.scenario, result.variant);
    const file = report.scenarioFile ?? "";
    lines.push(`  <testsuite ${attributes({ name: runLabel(report), tests: report.expectations.length, failures: suiteFailures, errors: 0, skipped: 0, time: seconds.toFixed(3), file })}>`);
    lines.push(`    <properties>${[["engine", result.engine], ["seed", result.seed], ["firewall", report.firewall]].map(([name, value]) => `<property ${attributes({ name: name!, value: value! })}/>`).join("")}</properties>`);
    const each = report.expectations.length ? seconds / report.expectations.length : 0;
    for (const expectation of report.expectations) {
      const caseAttributes = attributes({ name: `${expectation.source}: ${expectation.clause}`, classname, file, time: each.toFixed(3) });
      if (expectation.passed) {
        lines.push(`    <testcase ${caseAttributes}/>`);
        continue;
      }
      const message = `${expectation.source}: expected ${expectation.clause}; got ${expectation.actual}`;
      const body = [
        `expected: ${expectation.source} ${expectation.clause}`,
        `happened: ${expectation.actual}`,
        `because:  ${expectation.because ?? "(the scenario gives no reason)"}`,
        `run:      ${runLabel(report)} on the ${result.engine} engine, seed ${result.seed}, firewall ${report.firewall}${file ? `, ${file}` : ""}`,
      ].join("\n");
      lines.push(`    <testcase ${caseAttributes}>`, `      <failure ${attributes({ type: "ExpectationFailed", message })}>${escapeXml(body)}</failure>`, "    </testcase>");
    }
    lines.push(`    <system-out>${escapeXml(renderTerminal(report, { color: false }))}</system-out>`);
    lines.push("  </testsuite>");
  }
  for (const failure of loadFailures) {
    const name = failure.variant ? `${failure.file} [${failure.variant}]` : failure.file;
    const file = failure.file;
    lines.push(`  <testsuite ${attributes({ name, tests: 1, failures: 0, errors: 1, skipped: 0, time: "0.000", file })}>`);
    lines.push(`    <testcase ${attributes({ name: "the scenario loads", classname: classnameOf(file.replace(/^.*[\\/]/, "").replace(/\.ya?ml$/, ""), failure.variant), file, time: "0.000" })}>`);
    lines.push(`      <error ${attributes({ type: failure.code, message: failure.message.split("\n")[0]! })}>${escapeXml(failure.message)}</error>`);
    lines.push("    </testcase>", "  </testsuite>");
  }
  lines.push("</testsuites>", "");
  return lines.join("\n");
}
