import type { CompiledMatch } from "../match.js";

/** A type and the range of codes it matches: [type, lowest code, highest code]. */
export type IcmpTypeCode = readonly [number, number, number];

/** `TYPE` or `TYPE/CODE` as numbers 0-255, as iptables and ip6tables read them; null for anything else. */
export function numericTypeCode(text: string): IcmpTypeCode | null {
  const numeric = /^(\d+)(?:\/(\d+))?$/.exec(text);
  if (!numeric || Number(numeric[1]) > 255 || (numeric[2] !== undefined && Number(numeric[2]) > 255)) return null;
  const code = numeric[2] === undefined ? null : Number(numeric[2]);
  return [Number(numeric[1]), code ?? 0, code ?? 0xff];
}

/**
 * ip_tables.c icmp_match and ip6_tables.c icmp6_match: never a non-first
 * fragment; the type equal (or, for IPv4's `any`, `anyType`, whatever it is)
 * and the code within the range, inverted by `!`. A header cut short
 * hotdrops in the kernel; the model's datagrams carry theirs whole.
 */
export function icmpTypeCodeMatch(protocol: number, [type, minCode, maxCode]: IcmpTypeCode, negated: boolean, anyType: number | null): CompiledMatch {
  return (packet) => {
    if (packet.protocol !== protocol || packet.fragmentOffset !== 0 || packet.bytes.length < packet.headerLength + 2) return false;
    const packetType = packet.bytes[packet.headerLength]!;
    const code = packet.bytes[packet.headerLength + 1]!;
    return ((type === anyType || packetType === type) && code >= minCode && code <= maxCode) !== negated;
  };
}
