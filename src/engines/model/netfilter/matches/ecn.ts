import type { Packet } from "../../../../net/packet.js";
import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";

const TCP_ECE = 0x40;
const TCP_CWR = 0x80;

/** The ECN bits of the IPv4 TOS byte, or of IPv6's traffic class. */
function ecnBits(packet: Packet): number {
  return packet.family === 6 ? (packet.bytes[1]! >> 4) & 0x03 : packet.bytes[1]! & 0x03;
}

/**
 * xt_ecn.c ecn_mt4/ecn_mt6: `[!] --ecn-ip-ect 0-3` tests the IP header's ECN
 * field; `[!] --ecn-tcp-ece` and `[!] --ecn-tcp-cwr` the TCP header's flags,
 * read at the transport offset (a segment too short to hold them matches
 * nothing). Every option given has to hold.
 */
export const ecnMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("ecn", rawOptions, where);
  const tests: Array<(packet: Packet) => boolean> = [];
  const ect = options.get("ecn-ip-ect");
  if (ect) {
    const value = options.integer("ecn-ip-ect", 0, 0, 3);
    const negated = ect.negated;
    tests.push((packet) => (ecnBits(packet) === value) !== negated);
  }
  for (const [name, bit] of [
    ["ecn-tcp-ece", TCP_ECE],
    ["ecn-tcp-cwr", TCP_CWR],
  ] as const) {
    const option = options.get(name);
    if (!option) continue;
    const negated = option.negated;
    tests.push((packet) => packet.bytes.length >= packet.headerLength + 20 && ((packet.bytes[packet.headerLength + 13]! & bit) !== 0) !== negated);
  }
  if (tests.length === 0) throw options.error("some option is required: --ecn-ip-ect, --ecn-tcp-ece or --ecn-tcp-cwr");
  return (packet) => tests.every((test) => test(packet));
};
