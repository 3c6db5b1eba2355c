import type { TrafficSourceSpec } from "../../scenario/schema.js";
import type { AgentEvent } from "../../verdict/verdict.js";

type ToolSpec = Extract<TrafficSourceSpec, { kind: "tool" }>;

/**
 * What a real sipvicious run says it found, from its own output: the table
 * svcrack prints at its end (`| Extension | Password |`) and svwar's
 * (`| Extension | Authentication |`). The tools print no times: a password
 * is placed at the 200 OK the lab saw the PBX send the tool, an extension at
 * the tool's last request (the walk had found it by then).
 */
export function toolFindings(tool: ToolSpec, agent: string, output: string, times: { readonly registeredAtUs: number | null; readonly lastSentUs: number }): AgentEvent[] {
  if (tool.tool === "sipp-register") return [];
  const rows = tableRows(output);
  if (tool.tool === "svcrack") {
    const first = Number(tool.passwords.split("-")[0]);
    return rows.map(([account, password]) => ({
      atUs: times.registeredAtUs ?? times.lastSentUs,
      source: tool.name,
      agent,
      kind: "password-found",
      account,
      // svcrack -r walks the range in order from its first number.
      detail: `password "${password}", its guess ${/^\d+$/.test(password) ? Number(password) - first + 1 : "?"} (svcrack's own report)`,
    }));
  }
  return rows.map(([account, authentication]) => ({ atUs: times.lastSentUs, source: tool.name, agent, kind: "extension-found", account, detail: `svwar's own report: ${authentication}` }));
}

/** The body rows of sipvicious's result table: `| a | b |` lines after the header and its rule. */
function tableRows(output: string): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  let header = false;
  for (const line of output.split(/\r?\n/)) {
    const cells = /^\|\s*(.*?)\s*\|\s*(.*?)\s*\|\s*$/.exec(line.trim());
    if (!cells) continue;
    if (cells[1] === "Extension") {
      header = true;
      continue;
    }
    if (header && cells[1]) rows.push([cells[1], cells[2]!]);
  }
  return rows;
}
