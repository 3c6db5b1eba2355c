import type { DefenceRun, DefenceSummary } from "../compare/compare-defences.js";
import { defenceDescriptions } from "../compare/defences.js";
import { compareColumns, type CompareReport } from "./render-compare.js";
import { barsSvg, comparePanels, escapeXml as escapeHtml } from "./render-compare-svg.js";


function table(labels: readonly string[], rows: ReadonlyArray<DefenceRun | DefenceSummary>, best: string | null): string {
  const head = `<tr><th>defence</th>${compareColumns.map((column) => `<th>${escapeHtml(column.title)}</th>`).join("")}</tr>`;
  const body = rows
    .map((row, index) => `<tr${labels[index] === best ? ' class="best"' : ""}${row.passwordsFound > 0 ? ' data-cracked="yes"' : ""}><td>${escapeHtml(labels[index]!)}</td>${compareColumns.map((column) => `<td>${escapeHtml(column.cell(row))}</td>`).join("")}</tr>`)
    .join("\n");
  return `<table><thead>${head}</thead><tbody>\n${body}\n</tbody></table>`;
}

/** Bars per defence for one quantity, with its caption. */
function bars(title: string, summaries: readonly DefenceSummary[], value: (summary: DefenceSummary) => number): string {
  return `<figure><figcaption>${escapeHtml(title)}</figcaption>${barsSvg(title, summaries, value)}</figure>`;
}

/** A self-contained page: the verdict, the summary over every scenario with bars, then each scenario's table. */
export function renderCompareHtml(report: CompareReport): string {
  const best = report.best?.defence ?? null;
  const perScenario = report.scenarios
    .map((scenario) => {
      const runs = report.runs.filter((run) => run.scenario === scenario);
      return `<h3>${escapeHtml(scenario)}</h3>\n${table(runs.map((run) => run.defence), runs, null)}`;
    })
    .join("\n");
  const cracked = report.summaries.filter((summary) => summary.passwordsFound > 0).map((summary) => summary.defence);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>slamlab compare: ${report.defences.length} defences</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}td:first-child{text-align:left}
tr.best{background:#eef6ee;font-weight:600}tr[data-cracked]{color:#a00}
.verdict{padding:.8em 1em;border-left:6px solid #393;background:#eef6ee}.verdict.failure{border-color:#c22;background:#fbeaea;color:#600}
.charts{display:flex;flex-wrap:wrap;gap:1.5em}figure{margin:0}figcaption{font-size:.9em}svg text{font-size:11px;fill:#333}
</style></head><body>
<h1>slamlab compare</h1>
<p>${report.scenarios.length} scenario${report.scenarios.length === 1 ? "" : "s"} (${escapeHtml(report.scenarios.join(", "))}) under each defence on the ${report.engine} engine.</p>
<div class="verdict${best === null ? " failure" : ""}"><strong>${best === null ? "Nothing compared" : `Best: ${escapeHtml(best)}`}</strong>${report.best ? escapeHtml(report.best.reason) : ""}${cracked.length ? `<br>Passwords were found under: ${escapeHtml(cracked.join(", "))}.` : ""}</div>
<h2>The defences</h2>
<ul>${report.defences.map((defence) => `<li><b>${escapeHtml(defence)}</b>: ${escapeHtml(defenceDescriptions[defence])}</li>`).join("")}</ul>
<h2>Every scenario together</h2>
${table(report.summaries.map((summary) => summary.defence), report.summaries, best)}
<div class="charts">
${comparePanels.map((entry) => bars(entry.title, report.summaries, entry.value)).join("\n")}
</div>
<h2>Each scenario</h2>
${perScenario}
</body></html>
`;
}
