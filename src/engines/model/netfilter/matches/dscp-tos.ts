import type { Packet } from "../../../../net/packet.js";
import type { MatchFactory } from "../match.js";
import { DSCP_CLASSES } from "../targets.js";
import { MatchOptions } from "./match-options.js";

/** The IPv4 TOS byte, or IPv6's traffic class (the same DS field, across the header's first two bytes). */
function dsField(packet: Packet): number {
  return packet.family === 6 ? ((packet.bytes[0]! & 0x0f) << 4) | (packet.bytes[1]! >> 4) : packet.bytes[1]!;
}

/** xt_dscp.c dscp_mt: the DS field's upper six bits against --dscp (0-63) or --dscp-class (libxt_dscp's names), negatable. */
export const dscpMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("dscp", rawOptions, where);
  const option = options.get("dscp") ?? options.get("dscp-class");
  if (!option || (options.has("dscp") && options.has("dscp-class"))) throw options.error("give one of --dscp or --dscp-class");
  let wanted: number;
  if (option.name === "dscp-class") {
    const code = DSCP_CLASSES[option.args[0]!.toUpperCase()];
    if (code === undefined) throw options.error(`--dscp-class ${option.args[0]}: unknown class; use one of ${Object.keys(DSCP_CLASSES).join(", ")}`);
    wanted = code;
  } else wanted = options.integer("dscp", 0, 0, 63);
  const negated = option.negated;
  return (packet) => (dsField(packet) >> 2 === wanted) !== negated;
};

/** libxt_tos's names: each stands for its bit with the mask 0x3f (the old TOS field without the ECN bits' neighbours). */
const TOS_NAMES: Readonly<Record<string, number>> = { "minimize-delay": 0x10, "maximize-throughput": 0x08, "maximize-reliability": 0x04, "minimize-cost": 0x02, "normal-service": 0x00 };

/** xt_dscp.c tos_mt: (DS field & mask) == value, negatable; `--tos VALUE[/MASK]` (mask 0xff when none) or a name (mask 0x3f). */
export const tosMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("tos", rawOptions, where);
  const option = options.get("tos");
  if (!option) throw options.error("--tos is required");
  const text = option.args[0]!;
  let value: number;
  let mask: number;
  const named = TOS_NAMES[text.toLowerCase()];
  if (named !== undefined) [value, mask] = [named, 0x3f];
  else {
    const numeric = /^(0x[0-9a-f]+|\d+)(?:\/(0x[0-9a-f]+|\d+))?$/i.exec(text);
    [value, mask] = numeric ? [Number(numeric[1]), numeric[2] === undefined ? 0xff : Number(numeric[2])] : [Number.NaN, Number.NaN];
    if (!(value <= 0xff && mask <= 0xff)) throw options.error(`--tos ${text}: a value 0-0xff with an optional /mask, or one of ${Object.keys(TOS_NAMES).join(", ")}`);
  }
  const negated = option.negated;
  return (packet) => ((dsField(packet) & mask) === value) !== negated;
};
