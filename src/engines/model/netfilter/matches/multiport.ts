import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";
import { parsePortRange, type PortRange } from "./port-range.js";

/** XT_MULTI_PORTS: a range counts as two of the 15 slots (libxt_multiport.c). */
const MAX_PORT_SLOTS = 15;

/** `-m multiport --dports/--sports/--ports` as ports_match_v1 (xt_multiport.c). */
export const multiportMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("multiport", rawOptions, where);
  const given = (["dports", "sports", "ports"] as const).filter((name) => options.has(name));
  if (given.length !== 1) throw options.error(`give exactly one of --dports, --sports, --ports (got ${given.length})`);
  const flag = given[0]!;
  const option = options.get(flag)!;
  const ranges: PortRange[] = option.args[0]!.split(",").map((part) => parsePortRange(part, options, flag));
  const slots = ranges.reduce((sum, range) => sum + (range.min === range.max ? 1 : 2), 0);
  if (slots > MAX_PORT_SLOTS) throw options.error(`--${flag}: too many ports (${slots} slots, at most ${MAX_PORT_SLOTS}; a range takes two)`);
  const mins = Int32Array.from(ranges, (range) => range.min);
  const maxs = Int32Array.from(ranges, (range) => range.max);
  const invert = option.negated;
  const inList = (port: number): boolean => {
    for (let i = 0; i < mins.length; i++) if (port >= mins[i]! && port <= maxs[i]!) return true;
    return false;
  };
  // Fragments without ports never match (multiport_mt: fragoff != 0 -> false), inverted or not.
  if (flag === "dports") return (packet) => packet.fragmentOffset === 0 && inList(packet.dport) !== invert;
  if (flag === "sports") return (packet) => packet.fragmentOffset === 0 && inList(packet.sport) !== invert;
  return (packet) => packet.fragmentOffset === 0 && (inList(packet.sport) || inList(packet.dport)) !== invert;
};
