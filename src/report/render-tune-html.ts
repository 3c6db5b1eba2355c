import { attackLetThrough, isUnsafe, legitimateHarm } from "../tune/pareto.js";
import type { SweepAnalysis, SweepReport } from "../tune/sweep-report.js";
import { settingKey } from "../tune/sweep-space.js";

const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/**
 * A self-contained report: the data is embedded, and a small script draws the
 * heat maps (one per metric, hits against window, per matcher) and the Pareto
 * chart as SVG when the page opens. Nothing is fetched.
 */
export function renderTuneHtml(report: SweepReport, analysis: SweepAnalysis): string {
  const data = {
    scenarios: report.scenarios,
    results: report.results.map((result) => ({
      matcher: result.setting.matcher,
      hits: result.setting.hits,
      seconds: result.setting.seconds,
      unsafe: isUnsafe(result),
      attack: attackLetThrough(result),
      harm: legitimateHarm(result),
      ...result.total,
    })),
    front: analysis.front.map((result) => settingKey(result.setting)),
    recommended: analysis.recommendation ? settingKey(analysis.recommendation.result.setting) : null,
  };
  const recommendation = analysis.recommendation
    ? `<p class="recommendation"><strong>Recommended:</strong> ${escapeHtml(analysis.recommendation.reason)}</p>`
    : `<p class="recommendation"><strong>No safe setting:</strong> every setting swept locks a legitimate phone out somewhere; widen the ranges or allowlist the offices.</p>`;
  const frontRows = analysis.front
    .map((result) => `<tr${isUnsafe(result) ? ' class="unsafe"' : ""}><td>${escapeHtml(settingKey(result.setting))}</td><td>${attackLetThrough(result)}</td><td>${legitimateHarm(result)}</td><td>${result.total.legitRegistrationsLost}</td><td>${isUnsafe(result) ? "unsafe" : "safe"}</td></tr>`)
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>slamlab tune: ${report.results.length} settings</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h2{margin-top:2em}.charts{display:flex;flex-wrap:wrap;gap:1.5em}
figure{margin:0}figcaption{font-size:.9em;margin-bottom:.3em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}td:first-child{text-align:left}
tr.unsafe{color:#a00}.recommendation{background:#eef6ee;padding:.8em;border-left:4px solid #393}
svg text{font-size:10px;fill:#333}
</style></head><body>
<h1>slamlab tune</h1>
<p>${report.results.length} settings over ${report.scenarios.length} scenario runs (${escapeHtml(report.scenarios.join(", "))}), ${analysis.unsafe} unsafe (a legitimate phone never registers in some scenario).</p>
${recommendation}
<h2>Pareto front: attack let through against legitimate harm</h2>
<figure><figcaption>Every setting; the front is joined, unsafe settings are red, the recommendation is the ring.</figcaption><div id="pareto"></div></figure>
<table><thead><tr><th>setting</th><th>attack requests reaching the PBX</th><th>legitimate harm</th><th>phones locked out</th><th></th></tr></thead><tbody>
${frontRows}
</tbody></table>
<h2>Heat maps: hits (rows) against window seconds (columns)</h2>
<p>Darker is worse. A black outline marks an unsafe setting; white is an attacker never blocked.</p>
<div id="heatmaps" class="charts"></div>
<script id="sweep-data" type="application/json">${JSON.stringify(data).replace(/</g, "\\u003c")}</script>
<script>
(() => {
  const data = JSON.parse(document.getElementById("sweep-data").textContent);
  const NS = "http://www.w3.org/2000/svg";
  const el = (name, attributes, parent) => {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  };
  const shade = (t) => \`hsl(\${Math.round(120 - 120 * t)}, 70%, \${Math.round(85 - 45 * t)}%)\`;
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
    const cell = Math.max(4, Math.min(14, Math.floor(320 / Math.max(hits.length, seconds.length))));
    for (const [metric, label] of metrics) {
      const values = rows.map((r) => r[metric]).filter((v) => v !== null);
      const max = Math.max(1, ...values);
      const figure = document.createElement("figure");
      const caption = document.createElement("figcaption");
      caption.textContent = \`\${matcher}: \${label} (max \${Number.isInteger(max) ? max : max.toFixed(1)})\`;
      figure.appendChild(caption);
      const width = 40 + seconds.length * cell, height = 30 + hits.length * cell;
      const svg = el("svg", { width, height, "data-chart": \`heatmap-\${matcher}-\${metric}\` }, figure);
      for (const r of rows) {
        const x = 40 + seconds.indexOf(r.seconds) * cell, y = 10 + hits.indexOf(r.hits) * cell;
        const value = r[metric];
        const rect = el("rect", { x, y, width: cell, height: cell, fill: value === null ? "#fff" : shade(value / max), stroke: r.unsafe ? "#000" : "none", "stroke-width": r.unsafe ? 0.6 : 0, "data-cell": "" }, svg);
        el("title", {}, rect).textContent = \`\${matcher} hits=\${r.hits} seconds=\${r.seconds}: \${value === null ? "an attacker never blocked" : value}\`;
      }
      el("text", { x: 0, y: 18 }, svg).textContent = hits[0];
      el("text", { x: 0, y: 10 + hits.length * cell }, svg).textContent = hits[hits.length - 1];
      el("text", { x: 40, y: height - 4 }, svg).textContent = \`\${seconds[0]} s\`;
      el("text", { x: width - 34, y: height - 4 }, svg).textContent = \`\${seconds[seconds.length - 1]} s\`;
      container.appendChild(figure);
    }
  }
  const W = 640, H = 360, M = 50;
  const svg = el("svg", { width: W, height: H, "data-chart": "pareto" }, document.getElementById("pareto"));
  // The axes span what the sweep found, so a cluster of settings far from zero still spreads out.
  const attacks = data.results.map((r) => r.attack), harms = data.results.map((r) => r.harm);
  const minAttack = Math.min(...attacks), maxAttack = Math.max(minAttack + 1, ...attacks);
  const minHarm = Math.min(...harms), maxHarm = Math.max(minHarm + 1, ...harms);
  const px = (v) => M + ((v - minAttack) / (maxAttack - minAttack)) * (W - 2 * M), py = (v) => H - M - ((v - minHarm) / (maxHarm - minHarm)) * (H - 2 * M);
  el("line", { x1: M, y1: H - M, x2: W - M, y2: H - M, stroke: "#333" }, svg);
  el("line", { x1: M, y1: M, x2: M, y2: H - M, stroke: "#333" }, svg);
  el("text", { x: W / 2 - 80, y: H - 15 }, svg).textContent = \`attack requests reaching the PBX (\${minAttack} to \${maxAttack})\`;
  el("text", { x: 5, y: M - 10 }, svg).textContent = \`legitimate harm (\${minHarm} to \${maxHarm})\`;
  const key = (r) => \`\${r.matcher} hits=\${r.hits} seconds=\${r.seconds}\`;
  for (const r of data.results) {
    const point = el("circle", { cx: px(r.attack), cy: py(r.harm), r: 3, fill: r.unsafe ? "#c33" : "#36c", "fill-opacity": 0.5, "data-point": "" }, svg);
    el("title", {}, point).textContent = key(r);
  }
  const front = data.front.map((k) => data.results.find((r) => key(r) === k)).filter(Boolean);
  el("polyline", { points: front.map((r) => \`\${px(r.attack)},\${py(r.harm)}\`).join(" "), fill: "none", stroke: "#393", "stroke-width": 2, "data-front": "" }, svg);
  const best = data.results.find((r) => key(r) === data.recommended);
  if (best) el("circle", { cx: px(best.attack), cy: py(best.harm), r: 8, fill: "none", stroke: "#393", "stroke-width": 3, "data-recommended": "" }, svg);
  document.body.setAttribute("data-rendered", "true");
})();
</script>
</body></html>
`;
}
