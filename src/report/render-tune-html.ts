import { attackLetThrough, isUnsafe, legitimateHarm, unsafeIn } from "../tune/pareto.js";
import type { SettingResult } from "../tune/sweep-chunk.js";
import type { SweepAnalysis, SweepReport } from "../tune/sweep-report.js";
import { settingKey } from "../tune/sweep-space.js";

const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/**
 * A self-contained report: the data is embedded, and a small script draws the
 * heat maps (one per metric, hits against window, per matcher) and the Pareto
 * chart as SVG when the page opens. Nothing is fetched.
 */
export function renderTuneHtml(report: SweepReport, analysis: SweepAnalysis): string {
  // A sweep of the user's own ruleset names its axes by the options it set.
  const axes = report.axes ?? { hits: "hits", seconds: "window (seconds)" };
  const data = {
    scenarios: report.scenarios,
    axes,
    results: report.results.map((result) => ({
      matcher: result.setting.matcher,
      hits: result.setting.hits,
      seconds: result.setting.seconds,
      unsafe: isUnsafe(result),
      unsafeIn: unsafeIn(result),
      attack: attackLetThrough(result),
      harm: legitimateHarm(result),
      ...result.total,
    })),
    front: analysis.front.map((result) => settingKey(result.setting)),
    recommended: analysis.recommendation ? settingKey(analysis.recommendation.result.setting) : null,
  };
  const frontRows = analysis.front
    .map(
      (result) =>
        `<tr${isUnsafe(result) ? ' class="unsafe"' : ""}><td>${escapeHtml(settingKey(result.setting))}</td><td>${attackLetThrough(result)}</td><td>${legitimateHarm(result)}</td><td>${result.total.legitRegistrationsLost}</td><td>${isUnsafe(result) ? `unsafe in ${escapeHtml(unsafeIn(result).join(", "))}` : "safe"}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>slamlab tune: ${report.results.length} settings</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h2{margin-top:2em}.charts{display:flex;flex-wrap:wrap;gap:1.5em}
figure{margin:0}figcaption{font-size:.9em;margin-bottom:.3em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}td:first-child,td.settings{text-align:left}
tr.unsafe{color:#a00}
.verdict{padding:.8em 1em;border-left:6px solid}.verdict strong{display:block;font-size:1.15em;margin-bottom:.2em}
.verdict.ok{background:#eef6ee;border-color:#393}.verdict.failure{background:#fbeaea;border-color:#c22;color:#600}.verdict.warning{background:#fff6e0;border-color:#d90;color:#640}
svg text{font-size:10px;fill:#333}svg .axis-title{font-size:11px;font-weight:600}
</style></head><body>
<h1>slamlab tune</h1>
<p>${report.results.length} settings over ${report.scenarios.length} scenario runs (${escapeHtml(report.scenarios.join(", "))}), ${analysis.unsafe} unsafe (a legitimate phone never registers in some scenario).</p>
${verdictBox(analysis)}
<h2>Pareto front: attack let through against legitimate harm</h2>
<figure><figcaption>Every setting; the front is joined, unsafe settings are red, the recommendation is the ring.</figcaption><div id="pareto"></div></figure>
<table><thead><tr><th>setting</th><th>attack requests reaching the PBX</th><th>legitimate harm</th><th>phones locked out</th><th></th></tr></thead><tbody>
${frontRows}
</tbody></table>
${unsafeSection(report, analysis)}
<h2>Heat maps: ${escapeHtml(axes.hits)} (rows) against ${escapeHtml(axes.seconds)} (columns)</h2>
<p>Darker is worse, on a log scale so that 36 and 836 look different. A black outline marks an unsafe setting; white is an attacker never blocked. Hover a cell for its value and the scenarios it is unsafe in.</p>
<div id="heatmaps" class="charts"></div>
<script id="sweep-data" type="application/json">${JSON.stringify(data).replace(/</g, "\\u003c")}</script>
<script>
${CHART_SCRIPT}
</script>
</body></html>
`;
}

function verdictBox(analysis: SweepAnalysis): string {
  if (analysis.recommendation) return `<div class="verdict ok" data-verdict="recommended"><strong>Recommended</strong>${escapeHtml(analysis.recommendation.reason)}</div>`;
  if (analysis.noAttacker) return `<div class="verdict warning" role="alert" data-verdict="no-attacker"><strong>Nothing to recommend: no attacker</strong>${escapeHtml(analysis.noRecommendation!)}.</div>`;
  return `<div class="verdict failure" role="alert" data-verdict="no-safe-setting"><strong>No safe setting</strong>${escapeHtml(analysis.noRecommendation!)}. The table below names the scenario behind each lockout.</div>`;
}

/** Which scenario (and variant) makes which settings unsafe: the admin's next question after "none is safe". */
function unsafeSection(report: SweepReport, analysis: SweepAnalysis): string {
  if (analysis.unsafe === 0) return "";
  const byScenario = new Map<string, SettingResult[]>();
  for (const result of report.results) for (const label of unsafeIn(result)) byScenario.set(label, [...(byScenario.get(label) ?? []), result]);
  const rows = [...byScenario]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([label, results]) => {
      const phones = Math.max(...results.map((result) => result.byScenario[label]!.legitRegistrationsLost));
      return `<tr data-unsafe-scenario="${escapeHtml(label)}"><td>${escapeHtml(label)}</td><td>${results.length}</td><td>${phones}</td><td class="settings">${escapeHtml(compactSettings(results))}</td></tr>`;
    })
    .join("\n");
  return `<h2>What makes a setting unsafe</h2>
<p>Each scenario run in which some setting locks a legitimate phone out, and those settings.</p>
<table><thead><tr><th>scenario run</th><th>settings unsafe</th><th>most phones locked out</th><th>settings</th></tr></thead><tbody>
${rows}
</tbody></table>`;
}

/** "recent hits=3-40: 202-300 s (14 windows)" rather than one line per setting. */
function compactSettings(results: readonly SettingResult[]): string {
  const windows = new Map<string, Map<number, number[]>>();
  for (const { setting } of results) {
    const byHits = windows.get(setting.matcher) ?? new Map<number, number[]>();
    windows.set(setting.matcher, byHits);
    byHits.set(setting.hits, [...(byHits.get(setting.hits) ?? []), setting.seconds]);
  }
  const describeWindows = (seconds: readonly number[]) => (seconds.length > 3 ? `${seconds[0]}-${seconds.at(-1)} s (${seconds.length} windows)` : `${seconds.join(", ")} s`);
  const parts: string[] = [];
  for (const [matcher, byHits] of windows) {
    // Neighbouring hitcounts unsafe over the same windows read as one range.
    let run: { from: number; to: number; seconds: number[] } | null = null;
    const flush = () => run && parts.push(`${matcher} hits=${run.from === run.to ? run.from : `${run.from}-${run.to}`}: ${describeWindows(run.seconds)}`);
    for (const hits of [...byHits.keys()].sort((a, b) => a - b)) {
      const seconds = byHits.get(hits)!.sort((a, b) => a - b);
      if (run && seconds.join() === run.seconds.join()) run.to = hits;
      else {
        flush();
        run = { from: hits, to: hits, seconds };
      }
    }
    flush();
  }
  return parts.join("; ");
}

// Plain JavaScript for the browser: no build step, no dependencies.
const CHART_SCRIPT = String.raw`(() => {
  const data = JSON.parse(document.getElementById("sweep-data").textContent);
  const NS = "http://www.w3.org/2000/svg";
  const el = (name, attributes, parent) => {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  };
  const text = (attributes, content, parent) => {
    const node = el("text", attributes, parent);
    node.textContent = content;
    return node;
  };
  const format = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
  // Ticks at 1, 2 or 5 times a power of ten, about five over the range.
  const niceTicks = (min, max) => {
    const raw = (max - min) / 5;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
    const ticks = [];
    for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
    return ticks;
  };
  // Log scale over what the map holds: 36 and 836 attack requests are far apart, and so are 12,000 and 17,000.
  const scaled = (v, min, max) => (max <= min ? 0 : (Math.log1p(v) - Math.log1p(min)) / (Math.log1p(max) - Math.log1p(min)));
  const shade = (t) => "hsl(" + Math.round(120 - 120 * t) + ", 70%, " + Math.round(85 - 45 * t) + "%)";
  const metrics = [
    ["attackDelivered", "attack requests reaching the PBX"],
    ["maxPacketsToBlock", "worst attacker: requests to block"],
    ["maxSecondsToBlock", "worst attacker: seconds to block"],
    ["legitDropped", "legitimate requests dropped"],
    ["legitRegistrationsLost", "phones locked out"],
    ["legitSecondsBlocked", "longest a legitimate address stays blocked (s)"],
  ];
  const container = document.getElementById("heatmaps");
  for (const matcher of [...new Set(data.results.map((r) => r.matcher))]) {
    const rows = data.results.filter((r) => r.matcher === matcher);
    const hits = [...new Set(rows.map((r) => r.hits))].sort((a, b) => a - b);
    const seconds = [...new Set(rows.map((r) => r.seconds))].sort((a, b) => a - b);
    const cell = Math.max(6, Math.min(28, Math.floor(360 / Math.max(hits.length, seconds.length))));
    // Label every k-th row and column so labels never overlap.
    const every = (size) => Math.max(1, Math.ceil(size / cell));
    const left = 56, top = 8, keyWidth = 70;
    for (const [metric, label] of metrics) {
      const values = rows.map((r) => r[metric]).filter((v) => v !== null);
      const min = Math.min(...values), max = Math.max(min, ...values);
      const figure = document.createElement("figure");
      const caption = document.createElement("figcaption");
      caption.textContent = matcher + ": " + label + (values.length ? " (log scale, " + format(min) + " to " + format(max) + ")" : " (none)");
      figure.appendChild(caption);
      const plotW = seconds.length * cell, plotH = hits.length * cell;
      const width = left + plotW + keyWidth, height = top + plotH + 44;
      const svg = el("svg", { width, height, "data-chart": "heatmap-" + matcher + "-" + metric }, figure);
      for (const r of rows) {
        const x = left + seconds.indexOf(r.seconds) * cell, y = top + hits.indexOf(r.hits) * cell;
        const value = r[metric];
        const rect = el("rect", { x, y, width: cell, height: cell, fill: value === null ? "#fff" : shade(scaled(value, min, max)), stroke: r.unsafe ? "#000" : "none", "stroke-width": r.unsafe ? 0.8 : 0, "data-cell": "" }, svg);
        const where = r.unsafeIn.length ? "; unsafe in " + r.unsafeIn.join(", ") : "";
        el("title", {}, rect).textContent = matcher + " hits=" + r.hits + " seconds=" + r.seconds + ": " + (value === null ? "an attacker never blocked" : format(value)) + where;
      }
      const stepY = every(12), stepX = every(26);
      hits.forEach((h, i) => {
        if (i % stepY === 0) text({ x: left - 4, y: top + i * cell + cell / 2 + 3, "text-anchor": "end", "data-tick": "y" }, String(h), svg);
      });
      seconds.forEach((s, i) => {
        if (i % stepX === 0) text({ x: left + i * cell + cell / 2, y: top + plotH + 12, "text-anchor": "middle", "data-tick": "x" }, String(s), svg);
      });
      text({ x: left + plotW / 2, y: top + plotH + 28, "text-anchor": "middle", class: "axis-title", "data-axis": "x" }, data.axes.seconds, svg);
      text({ x: 12, y: top + plotH / 2, "text-anchor": "middle", class: "axis-title", transform: "rotate(-90 12 " + (top + plotH / 2) + ")", "data-axis": "y" }, data.axes.hits, svg);
      // The colour key: the same log scale, with the values it stands for.
      const keyX = left + plotW + 14, keyH = Math.max(plotH, 60);
      const id = "key-" + matcher + "-" + metric;
      const gradient = el("linearGradient", { id, x1: 0, y1: 1, x2: 0, y2: 0 }, el("defs", {}, svg));
      for (let i = 0; i <= 10; i++) el("stop", { offset: i / 10, "stop-color": shade(i / 10) }, gradient);
      const key = el("g", { "data-legend": "" }, svg);
      el("rect", { x: keyX, y: top, width: 10, height: keyH, fill: "url(#" + id + ")", stroke: "#999" }, key);
      // The ends, and powers of ten between them that do not crowd the ends.
      const span = Math.log1p(max) - Math.log1p(min);
      const apart = (a, b) => span > 0 && Math.abs(Math.log1p(a) - Math.log1p(b)) / span > 0.12;
      const inside = [1, 10, 100, 1000, 10000, 100000, 1000000].filter((v) => v > min && v < max && apart(v, min) && apart(v, max));
      const keyValues = values.length ? [...new Set([min, ...inside, max])] : [];
      for (const v of keyValues) text({ x: keyX + 14, y: top + keyH - scaled(v, min, max) * keyH + 3, "data-key-value": "" }, format(v), key);
      if (rows.some((r) => r[metric] === null)) text({ x: keyX, y: top + keyH + 14 }, "white: never", key);
      svg.setAttribute("height", Math.max(height, top + keyH + 20));
      container.appendChild(figure);
    }
  }
  const W = 680, H = 380, L = 70, R = 20, T = 20, B = 56;
  const svg = el("svg", { width: W, height: H, "data-chart": "pareto" }, document.getElementById("pareto"));
  // The axes span what the sweep found, so a cluster of settings far from zero still spreads out.
  const attacks = data.results.map((r) => r.attack), harms = data.results.map((r) => r.harm);
  const minAttack = Math.min(...attacks), maxAttack = Math.max(minAttack + 1, ...attacks);
  const minHarm = Math.min(...harms), maxHarm = Math.max(minHarm + 1, ...harms);
  const px = (v) => L + ((v - minAttack) / (maxAttack - minAttack)) * (W - L - R), py = (v) => H - B - ((v - minHarm) / (maxHarm - minHarm)) * (H - T - B);
  for (const v of niceTicks(minAttack, maxAttack)) {
    el("line", { x1: px(v), y1: T, x2: px(v), y2: H - B, stroke: "#e4e4e4", "data-grid": "x" }, svg);
    el("line", { x1: px(v), y1: H - B, x2: px(v), y2: H - B + 5, stroke: "#333" }, svg);
    text({ x: px(v), y: H - B + 17, "text-anchor": "middle", "data-tick": "x" }, format(v), svg);
  }
  for (const v of niceTicks(minHarm, maxHarm)) {
    el("line", { x1: L, y1: py(v), x2: W - R, y2: py(v), stroke: "#e4e4e4", "data-grid": "y" }, svg);
    el("line", { x1: L - 5, y1: py(v), x2: L, y2: py(v), stroke: "#333" }, svg);
    text({ x: L - 8, y: py(v) + 3, "text-anchor": "end", "data-tick": "y" }, format(v), svg);
  }
  el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#333" }, svg);
  el("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#333" }, svg);
  text({ x: L + (W - L - R) / 2, y: H - 14, "text-anchor": "middle", class: "axis-title", "data-axis": "x" }, "attack requests reaching the PBX", svg);
  text({ x: 14, y: T + (H - T - B) / 2, "text-anchor": "middle", class: "axis-title", transform: "rotate(-90 14 " + (T + (H - T - B) / 2) + ")", "data-axis": "y" }, "legitimate harm (requests dropped + phones locked out)", svg);
  const key = (r) => r.matcher + " hits=" + r.hits + " seconds=" + r.seconds;
  for (const r of data.results) {
    const point = el("circle", { cx: px(r.attack), cy: py(r.harm), r: 3, fill: r.unsafe ? "#c33" : "#36c", "fill-opacity": 0.5, "data-point": "" }, svg);
    el("title", {}, point).textContent = key(r) + ": " + r.attack + " attack requests, harm " + r.harm + (r.unsafeIn.length ? "; unsafe in " + r.unsafeIn.join(", ") : "");
  }
  const front = data.front.map((k) => data.results.find((r) => key(r) === k)).filter(Boolean);
  el("polyline", { points: front.map((r) => px(r.attack) + "," + py(r.harm)).join(" "), fill: "none", stroke: "#393", "stroke-width": 2, "data-front": "" }, svg);
  const best = data.results.find((r) => key(r) === data.recommended);
  if (best) el("circle", { cx: px(best.attack), cy: py(best.harm), r: 8, fill: "none", stroke: "#393", "stroke-width": 3, "data-recommended": "" }, svg);
  document.body.setAttribute("data-rendered", "true");
})();`;
