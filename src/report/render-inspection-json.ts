import type { CaptureSummary } from "../capture/inspect-capture.js";

/** What judged the capture's requests, as `capture inspect` names it. */
export interface InspectionJudge {
  readonly kind: "policy" | "ruleset";
  /** The built-in policy's name, or the file. */
  readonly name: string;
  /** With a ruleset: the ip6tables-save file that judged IPv6 requests (null: IPv6 sources were not judged). */
  readonly ruleset6?: string | null;
  /** The address the rules protect; null: the capture's registrars. */
  readonly pbxAddress: string | null;
  /** How the registrars were judged: each through its own firewall, all as one PBX (as a replay runs them), or every request as sent to pbxAddress. */
  readonly registrars: "each" | "as one PBX" | "one address";
}

const seconds = (ns: bigint) => Number(ns) / 1e9;

/**
 * `capture inspect --json`: the summary as documented fields (README,
 * "capture inspect --json"); timestamps as seconds since 1970 and as strings
 * of nanoseconds (they outgrow a double's precision), and per source the
 * judge's first drop, and whether any firewall judged its requests.
 */
export function renderInspectionJson(summary: CaptureSummary, drops: ReadonlyMap<string, { atNs: bigint; index: number }>, judge: InspectionJudge, judged?: ReadonlySet<string>): string {
  const document = {
    format: "slamlab-inspect/1",
    path: summary.path,
    captureFormat: summary.format,
    linkTypes: summary.linkTypes,
    packets: summary.packets,
    bytes: summary.bytes,
    firstNs: summary.firstNs?.toString() ?? null,
    lastNs: summary.lastNs?.toString() ?? null,
    durationSeconds: summary.firstNs !== null && summary.lastNs !== null ? seconds(summary.lastNs - summary.firstNs) : 0,
    ipv4: summary.ipv4,
    ipv6: summary.ipv6,
    udp: summary.udp,
    tcp: summary.tcp,
    fragments: summary.fragments,
    tcpRetransmissions: summary.tcpRetransmissions,
    skipped: summary.undecodable,
    sipRequests: summary.requests,
    iax2Frames: summary.iax2Frames,
    sipRequestsWithCredentials: summary.requestsWithCredentials,
    sipResponses: summary.responses,
    userAgents: summary.userAgents,
    registrars: summary.servers,
    judgedBy: judge,
    sources: summary.sources.map((source) => {
      const drop = drops.get(source.address);
      return {
        address: source.address,
        registers: source.registers,
        requests: source.requests,
        peakRegistersPerMinute: source.peakRegistersPerMinute,
        firstSeconds: seconds(source.firstNs),
        lastSeconds: seconds(source.lastNs),
        userAgents: source.userAgents,
        // Whether a firewall judged its requests: blocked null means not blocked only where this is true.
        judged: judged === undefined || judged.has(source.address),
        blocked: drop ? { atRequest: drop.index, secondsAfterFirst: seconds(drop.atNs - source.firstNs) } : null,
      };
    }),
    warnings: summary.warnings,
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
