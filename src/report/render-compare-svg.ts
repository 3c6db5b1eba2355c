import type { DefenceSummary } from "../compare/compare-defences.js";
import type { CompareReport } from "./render-compare.js";

export const escapeXml = (text: string) => text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** The quantities a comparison's figure draws, one panel each: what got through, what it found, what the phones lost. */
export const comparePanels: ReadonlyArray<{ readonly title: string; readonly value: (summary: DefenceSummary) => number }> = [
  { title: "Attack requests reaching the PBX", value: (summary) => summary.metrics.attackDelivered },
  { title: "Passwords found and calls reaching the dialplan", value: (summary) => summary.passwordsFound + summary.callsReached },
  { title: "Phones that never registered", value: (summary) => summary.metrics.legitRegistrationsLost },
  { title: "Legitimate requests dropped", value: (summary) => summary.metrics.legitDropped },
];

const PANEL_WIDTH = 520;
const LABEL_WIDTH = 110;
const ROW_HEIGHT = 26;

/** One panel's bars (an <svg> element's content), its top at `top`: a defence a row, its amount written beside its bar. */
function panel(title: string, summaries: readonly DefenceSummary[], value: (summary: DefenceSummary) => number, top: number): string {
  const max = Math.max(1, ...summaries.map(value));
  const rows = summaries
    .map((summary, index) => {
      const amount = value(summary);
      const length = Math.round(((PANEL_WIDTH - LABEL_WIDTH - 60) * amount) / max);
      const y = top + 24 + index * ROW_HEIGHT;
      return `<text x="${LABEL_WIDTH - 8}" y="${y + 14}" text-anchor="end">${escapeXml(summary.defence)}</text><rect x="${LABEL_WIDTH}" y="${y}" width="${length}" height="18" fill="#4a78b0"><title>${escapeXml(summary.defence)}: ${amount}</title></rect><text x="${LABEL_WIDTH + length + 6}" y="${y + 14}">${amount}</text>`;
    })
    .join("");
  return `<text x="0" y="${top + 14}" font-weight="bold">${escapeXml(title)}</text>${rows}`;
}

const panelHeight = (summaries: readonly DefenceSummary[]) => 30 + summaries.length * ROW_HEIGHT;

/** One quantity's bars as an inline <svg> (the HTML page's charts). */
export function barsSvg(title: string, summaries: readonly DefenceSummary[], value: (summary: DefenceSummary) => number): string {
  return `<svg width="${PANEL_WIDTH}" height="${panelHeight(summaries)}" role="img" aria-label="${escapeXml(title)}" data-chart="${escapeXml(title)}">${panel(title, summaries, value, 0)}</svg>`;
}

/** compare.svg: the comparison over every scenario as one standalone figure (a README, a wiki, a ticket can show it). */
export function renderCompareSvg(report: CompareReport): string {
  const height = panelHeight(report.summaries) + 10;
  const caption = `${report.scenarios.length} scenario${report.scenarios.length === 1 ? "" : "s"} under each defence, ${report.engine} engine${report.best ? `; best: ${report.best.defence}` : ""}`;
  const panels = comparePanels.map((entry, index) => panel(entry.title, report.summaries, entry.value, 28 + index * height)).join("\n");
  const total = 28 + comparePanels.length * height;
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${PANEL_WIDTH}" height="${total}" viewBox="0 0 ${PANEL_WIDTH} ${total}" font-family="sans-serif" font-size="12" role="img" aria-label="slamlab compare">
<rect width="100%" height="100%" fill="#fff"/>
<text x="0" y="16" fill="#555">${escapeXml(caption)}</text>
${panels}
</svg>
`;
}
