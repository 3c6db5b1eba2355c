import type { InspectionJudge } from "./render-inspection-json.js";
import type { CaptureSummary } from "../capture/inspect-capture.js";

const count = (value: number) => value.toLocaleString("en-US");

function seconds(ns: bigint): number {
  return Number(ns / 1000n) / 1e6;
}

function duration(totalSeconds: number): string {
  if (totalSeconds < 120) return `${totalSeconds.toFixed(3)} s`;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  return `${hours ? `${hours} h ` : ""}${minutes} min (${count(Math.round(totalSeconds))} s)`;
}

function ranked(counts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([name, n]) => `${name} ${count(n)}`).join(", ") : "none";
}

/** A capture's timestamp as a date, or as seconds where a corrupt or offset clock puts it outside the calendar. */
function captureTime(ns: bigint): string {
  const ms = ns / 1_000_000n;
  // Date covers +-8.64e15 ms around 1970.
  if (ms > 8_640_000_000_000_000n || ms < -8_640_000_000_000_000n) return `${ns / 1_000_000_000n} s after 1970 (outside the calendar: a corrupt timestamp or if_tsoffset?)`;
  return new Date(Number(ms)).toISOString();
}

/**
 * `capture inspect` as text: what a user reads before replaying a capture.
 * `judged`: the sources whose requests a firewall judged; absent, all of
 * them. A source outside it is reported as not judged, never as not blocked.
 */
export function renderInspection(
  summary: CaptureSummary,
  drops: ReadonlyMap<string, { atNs: bigint; index: number }>,
  judge: InspectionJudge = { kind: "policy", name: "default", pbxAddress: null, registrars: "each" },
  judged?: ReadonlySet<string>,
): string {
  const lines: string[] = [];
  const span = summary.firstNs !== null && summary.lastNs !== null ? seconds(summary.lastNs - summary.firstNs) : 0;
  const start = summary.firstNs !== null ? captureTime(summary.firstNs) : "-";
  lines.push(`${summary.path}`);
  lines.push(`  format ${summary.format}, link type ${summary.linkTypes.join(", ") || "-"}`);
  lines.push(`  ${count(summary.packets)} packets, ${count(summary.bytes)} bytes, from ${start}, duration ${duration(span)}`);
  const undecodable = Object.entries(summary.undecodable).map(([reason, n]) => `${count(n)} ${reason}`);
  lines.push(`  IPv4 ${count(summary.ipv4)}, IPv6 ${count(summary.ipv6)}; UDP ${count(summary.udp)}, TCP ${count(summary.tcp)}; IPv4/IPv6 fragments ${count(summary.fragments)}${summary.tcpRetransmissions ? `; TCP retransmissions ${count(summary.tcpRetransmissions)} (judged again, not counted as SIP again)` : ""}${undecodable.length ? `; skipped: ${undecodable.join(", ")}` : ""}`);
  lines.push("");
  lines.push(`  SIP requests:  ${ranked(summary.requests)}  (${count(summary.requestsWithCredentials)} with credentials)`);
  lines.push(`  SIP responses: ${ranked(summary.responses)}`);
  lines.push(`  User-Agents:   ${ranked(summary.userAgents)}`);
  if (Object.keys(summary.iax2Frames).length) lines.push(`  IAX2 frames:   ${ranked(summary.iax2Frames)}`);
  lines.push(`  PBX/registrar: ${summary.servers.join(", ") || "none found (no address receives more requests than it sends)"}`);
  lines.push("");
  const rules = judge.kind === "ruleset" ? `your ruleset ${judge.name}${judge.ruleset6 ? ` (IPv6: ${judge.ruleset6})` : ""}` : judge.name === "default" ? "the default policy (10 REGISTERs in 60 s)" : `the policy ${judge.name}`;
  // Where the rules stood: a capture with several registrars is judged at each, or at one PBX as a replay of it runs.
  const where =
    judge.registrars === "one address"
      ? ` protecting ${judge.pbxAddress}`
      : summary.servers.length < 2
        ? ""
        : judge.registrars === "as one PBX"
          ? ` at one PBX for all ${summary.servers.length} registrars, as a replay runs them`
          : " at each registrar (--as-one-pbx: as a replay runs them)";
  const judgedBy = `${rules}${where}`;
  const iax2 = Object.keys(summary.iax2Frames).length > 0;
  const rate = iax2 ? "registration rate (SIP REGISTERs and IAX2 REGREQs; peak in any 60 s)" : "REGISTER rate (peak in any 60 s)";
  lines.push(`  Sources by ${rate}, judged by ${judgedBy}:`);
  if (summary.sources.length === 0) lines.push("    none");
  const shown = summary.sources.slice(0, 20);
  const width = Math.max(15, ...shown.map((source) => source.address.length));
  for (const source of shown) {
    const drop = drops.get(source.address);
    const verdict = drop
      ? `SLAMMING: blocked at its request ${drop.index}, ${seconds(drop.atNs - source.firstNs).toFixed(1)} s after its first`
      : judged !== undefined && !judged.has(source.address)
        ? notJudged(source.address, judge)
        : source.registers > 0
        ? "not blocked"
        : iax2
          ? "no registrations"
          : "no REGISTERs";
    lines.push(
      `    ${source.address.padEnd(width)}  ${count(source.registers).padStart(7)} ${iax2 ? "registrations" : "REGISTER"}  peak ${String(source.peakRegistersPerMinute).padStart(4)}/min  ${count(source.requests).padStart(7)} requests  ${verdict}`,
    );
  }
  if (summary.sources.length > shown.length) lines.push(`    ... and ${count(summary.sources.length - shown.length)} more sources`);
  if (summary.warnings.length) {
    lines.push("", "  Warnings:");
    for (const warning of summary.warnings) lines.push(`    ${warning}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Why a source's requests met no firewall: IPv6 beside an iptables ruleset, or none of them went to a registrar judged. */
function notJudged(address: string, judge: InspectionJudge): string {
  if (address.includes(":") && judge.kind === "ruleset" && !judge.ruleset6) return "not judged (IPv6: the ruleset holds iptables rules; give --ruleset6)";
  return "not judged (no request to a registrar)";
}
