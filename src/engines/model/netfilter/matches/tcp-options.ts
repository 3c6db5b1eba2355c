import type { Packet } from "../../../../net/packet.js";
import { hotdropOf, type CompiledMatch, type MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";

/**
 * Where a TCP header's options lie in the packet, read as xt_tcpudp and
 * xt_tcpmss read them: from the transport header's offset (a non-first
 * fragment's bytes there are read as one too, as the kernel reads them),
 * "unreadable" when the header or its options are not all there (the match
 * hotdrops: the kernel drops the packet), "malformed" for a data offset under
 * 20 bytes.
 */
export function tcpOptionsOf(packet: Packet): { start: number; length: number } | "unreadable" | "malformed" {
  const header = packet.headerLength;
  const bytes = packet.bytes;
  if (bytes.length < header + 20) return "unreadable";
  const dataOffset = (bytes[header + 12]! >> 4) * 4;
  if (dataOffset < 20) return "malformed";
  if (bytes.length < header + dataOffset) return "unreadable";
  return { start: header + 20, length: dataOffset - 20 };
}

/**
 * The first option of kind `kind` in the options at `start` (an offset into
 * the packet), walked as tcp_find_option and tcpmss_mt walk them: EOL and
 * NOP are one byte each (EOL does not end the walk), any other kind is as
 * long as its length byte says, a length of 0 taken for 1. With
 * `exactLength`, only an option of that length, wholly inside the options,
 * counts (tcpmss_mt passes over an MSS option of another length). -1 when
 * there is none.
 */
export function findTcpOption(bytes: Uint8Array, start: number, length: number, kind: number, exactLength?: number): number {
  for (let i = 0; i < length; ) {
    const at = start + i;
    if (bytes[at] === kind && (exactLength === undefined || (length - i >= exactLength && bytes[at + 1] === exactLength))) return at;
    i += bytes[at]! < 2 ? 1 : bytes[at + 1] || 1;
  }
  return -1;
}

const TCPOPT_MSS = 2;
const TCPOLEN_MSS = 4;

/**
 * xt_tcpmss.c tcpmss_mt: a segment's MSS option against `[!] --mss MIN[:MAX]`.
 * A segment without options, or without an MSS option whose length is 4, is
 * matched by the negated form only (as javapipe's `! --mss 536:65535` drops
 * every new connection whose SYN carries none); a header the match cannot
 * read drops the packet (hotdrop).
 */
export const tcpmssMatch: MatchFactory = (rawOptions, state, where) => {
  const options = new MatchOptions("tcpmss", rawOptions, where);
  const option = options.get("mss");
  if (!option) throw options.error(`option "--mss" must be specified`);
  const range = /^(\d*)(?::(\d*))?$/.exec(option.args[0]!);
  const min = range && range[1] !== "" ? Number(range[1]) : 0;
  const max = range && range[2] !== undefined ? (range[2] === "" ? 0xffff : Number(range[2])) : min;
  if (!range || (range[1] === "" && range[2] === undefined) || !(min <= 0xffff && max <= 0xffff)) throw options.error(`--mss ${option.args[0]}: a value 0-65535, or a range MIN:MAX of them`);
  if (min > max) throw options.error(`--mss ${option.args[0]}: invalid range given (iptables: "tcpmss: invalid range given")`);
  const negated = option.negated;
  const hotdrop = hotdropOf(state);
  const match: CompiledMatch = (packet) => {
    const options = tcpOptionsOf(packet);
    if (typeof options === "string") {
      hotdrop.dropped = true;
      hotdrop.reason = `xt_tcpmss could not read the segment's TCP header or options (${options === "malformed" ? "a data offset under 20 bytes" : "cut short"}): the kernel drops it`;
      return false;
    }
    if (options.length === 0) return negated;
    const at = findTcpOption(packet.bytes, options.start, options.length, TCPOPT_MSS, TCPOLEN_MSS);
    if (at < 0) return negated;
    const mss = (packet.bytes[at + 2]! << 8) | packet.bytes[at + 3]!;
    return (mss >= min && mss <= max) !== negated;
  };
  return match;
};
