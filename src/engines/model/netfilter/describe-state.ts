import type { Packet } from "../../../net/packet.js";
import type { MatchState, PacketContext } from "./match.js";
import { describeHashlimitFor } from "./matches/hashlimit.js";
import type { LimitBucket } from "./matches/limit.js";
import { describeRecentFor } from "./matches/recent.js";

/**
 * What the stateful matches hold for one packet just before the filter judges
 * it, one line per table: its xt_recent entry, its hashlimit bucket, each
 * limit rule's bucket. `slamlab diff` shows this beside a disagreement, so a
 * difference can be read against the window or bucket that decided it.
 */
export function describeMatchState(state: MatchState, packet: Packet, context: PacketContext): string[] {
  const lines: string[] = [];
  for (const [key, value] of state.tables) {
    const separator = key.indexOf(":");
    const kind = key.slice(0, separator);
    const name = key.slice(separator + 1);
    if (kind === "recent") lines.push(describeRecentFor(state, name, packet, context.jiffies));
    else if (kind === "hashlimit") lines.push(describeHashlimitFor(state, name, packet, context.jiffies));
    else if (kind === "limit") lines.push((value as LimitBucket).describe(context));
  }
  return lines;
}
