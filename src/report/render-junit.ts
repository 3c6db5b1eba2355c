import { runLabel, type RunReport } from "./run-report.js";

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (char) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[char]!);
}

/** JUnit XML: one testsuite per scenario run, one testcase per expectation clause. */
export function renderJunit(reports: readonly RunReport[]): string {
  const failures = reports.reduce((sum, report) => sum + report.expectations.filter((e) => !e.passed).length, 0);
  const tests = reports.reduce((sum, report) => sum + report.expectations.length, 0);
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="slamlab" tests="${tests}" failures="${failures}">`];
  for (const report of reports) {
    const suiteFailures = report.expectations.filter((e) => !e.passed).length;
    const seconds = (report.result.wallMs / 1000).toFixed(3);
    lines.push(`  <testsuite name="${escapeXml(runLabel(report))}" tests="${report.expectations.length}" failures="${suiteFailures}" time="${seconds}">`);
    lines.push(`    <properties><property name="engine" value="${report.result.engine}"/><property name="seed" value="${report.result.seed}"/></properties>`);
    for (const expectation of report.expectations) {
      const name = escapeXml(`${expectation.source}: ${expectation.clause}`);
      const classname = escapeXml(`slamlab.${runLabel(report)}`);
      if (expectation.passed) {
        lines.push(`    <testcase name="${name}" classname="${classname}"/>`);
      } else {
        const message = escapeXml(`${expectation.actual}${expectation.because ? ` (wanted because ${expectation.because})` : ""}`);
        lines.push(`    <testcase name="${name}" classname="${classname}"><failure message="${message}"/></testcase>`);
      }
    }
    lines.push("  </testsuite>");
  }
  lines.push("</testsuites>", "");
  return lines.join("\n");
}
