import { routingHeaderOffset } from "../../../../net/ipv6.js";
import type { Packet } from "../../../../net/packet.js";
import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";

/**
 * ip6t_rt.c: the IPv6 routing header's type, segments left (a range) and
 * length (the header's bytes, (Hdr Ext Len + 1) * 8), each negatable. A
 * packet without a routing header never matches, negated or not: UFW's
 * `-m rt --rt-type 0 -j DROP` (RFC 5095's deprecated type 0) passes every
 * other packet. The type-0 address checks are refused.
 */
export const rtMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("rt", rawOptions, where);
  options.refuse(["rt-0-res", "rt-0-addrs", "rt-0-not-strict"]);
  const tests: Array<(bytes: Uint8Array, at: number) => boolean> = [];
  const type = options.get("rt-type");
  if (type) {
    const wanted = options.integer("rt-type", 0, 0, 255);
    tests.push((bytes, at) => (bytes[at + 2] === wanted) !== type.negated);
  }
  const segments = options.get("rt-segsleft");
  if (segments) {
    const range = /^(\d+)(?::(\d+))?$/.exec(segments.args[0]!);
    if (!range) throw options.error(`--rt-segsleft ${segments.args[0]}: expected N or MIN:MAX`);
    const [min, max] = [Number(range[1]), Number(range[2] ?? range[1])];
    tests.push((bytes, at) => (bytes[at + 3]! >= min && bytes[at + 3]! <= max) !== segments.negated);
  }
  const length = options.get("rt-len");
  if (length) {
    const wanted = options.integer("rt-len", 0, 0, 0xffffffff);
    tests.push((bytes, at) => ((bytes[at + 1]! + 1) * 8 === wanted) !== length.negated);
  }
  return (packet: Packet) => {
    if (packet.family !== 6) return false;
    const at = routingHeaderOffset(packet.bytes);
    // A header longer than the packet holds: no match (rt_mt6's "Packet smaller than its length field").
    if (at < 0 || packet.bytes.length - at < (packet.bytes[at + 1]! + 1) * 8) return false;
    return tests.every((test) => test(packet.bytes, at));
  };
};
