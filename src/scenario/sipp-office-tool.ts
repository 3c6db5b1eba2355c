import type { TrafficSourceSpec } from "./schema.js";

/** A SIPp office: a real tool sipp-register over a range of accounts, one SIPp process reading them from an injection file. */
export function isSippOffice(spec: TrafficSourceSpec): boolean {
  return spec.kind === "tool" && spec.tool === "sipp-register" && spec.target.includes("-");
}
