import type { Packet } from "../../../../net/packet.js";
import { hotdropOf, type CompiledMatch, type MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";
import { parsePortRange } from "./port-range.js";
import { findTcpOption, tcpOptionsOf } from "./tcp-options.js";

/**
 * `-m udp` / `-m tcp` --sport/--dport (xt_tcpudp.c). A non-first fragment has
 * no ports, so udp_mt returns false for it whatever the ports say.
 */
function portMatch(module: "udp" | "tcp"): MatchFactory {
  return (rawOptions, state, where) => {
    const options = new MatchOptions(module, rawOptions, where);
    const tests: Array<(packet: Packet) => boolean> = [];
    for (const [flag, field] of [
      ["sport", "sport"],
      ["dport", "dport"],
    ] as const) {
      const option = options.get(flag);
      if (!option) continue;
      const { min, max } = parsePortRange(option.args[0]!, options, flag);
      const negated = option.negated;
      tests.push((packet) => (packet[field] >= min && packet[field] <= max) !== negated);
    }
    const flags = options.get("tcp-flags") ?? (options.has("syn") ? { args: ["SYN,RST,ACK,FIN", "SYN"], negated: options.get("syn")!.negated } : undefined);
    if (flags) {
      const mask = tcpFlagBits(flags.args[0]!, options);
      const compare = tcpFlagBits(flags.args[1]!, options);
      const negated = flags.negated;
      tests.push((packet) => packet.bytes.length > packet.headerLength + 13 && ((packet.bytes[packet.headerLength + 13]! & mask) === compare) !== negated);
    }
    const option = options.get("tcp-option");
    if (option) {
      // xt_tcpudp's tcp_find_option: a segment with no options has none of them; one the match cannot read is dropped (hotdrop).
      const kind = options.integer("tcp-option", 0, 1, 255);
      const negated = option.negated;
      const hotdrop = hotdropOf(state);
      tests.push((packet) => {
        const found = tcpOptionsOf(packet);
        if (typeof found === "string") {
          hotdrop.dropped = true;
          hotdrop.reason = "the tcp match could not read the segment's TCP options (a data offset under 20 bytes, or options cut short): the kernel drops it";
          return false;
        }
        return (found.length > 0 && findTcpOption(packet.bytes, found.start, found.length, kind) >= 0) !== negated;
      });
    }
    const [first, second, third, fourth] = tests;
    const match: CompiledMatch =
      tests.length === 1
        ? (packet) => packet.fragmentOffset === 0 && first!(packet)
        : tests.length === 2
          ? (packet) => packet.fragmentOffset === 0 && first!(packet) && second!(packet)
          : (packet) => packet.fragmentOffset === 0 && (!first || first(packet)) && (!second || second(packet)) && (!third || third(packet)) && (!fourth || fourth(packet));
    return match;
  };
}

const tcpFlagNames: Record<string, number> = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32, ECE: 64, CWR: 128, ALL: 255, NONE: 0 };

function tcpFlagBits(text: string, options: MatchOptions): number {
  let bits = 0;
  for (const name of text.split(",")) {
    const bit = tcpFlagNames[name.toUpperCase()];
    if (bit === undefined) throw options.error(`--tcp-flags: unknown flag "${name}"`);
    bits |= bit;
  }
  return bits;
}

export const udpMatch = portMatch("udp");
export const tcpMatch = portMatch("tcp");
