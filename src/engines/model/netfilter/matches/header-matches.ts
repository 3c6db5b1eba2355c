import { isIpv4, parseIpv4 } from "../../../../net/address.js";
import type { Packet } from "../../../../net/packet.js";
import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";
import { icmpTypeCodeMatch, numericTypeCode, type IcmpTypeCode } from "./icmp-type-code.js";

/**
 * Matches on what the IP header and the packet's arrival say, as published
 * anti-scanner rulesets use them: iprange, length, pkttype, addrtype, icmp.
 * Each is modelled from its net/netfilter/xt_*.c.
 */

function address(text: string, options: MatchOptions, flag: string): number {
  if (!isIpv4(text)) throw options.error(`--${flag} ${text}: expected an IPv4 address`);
  return parseIpv4(text);
}

/** xt_iprange.c: --src-range / --dst-range FROM[-TO], each negatable; all given must hold. */
export const iprangeMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("iprange", rawOptions, where);
  const tests: Array<(packet: Packet) => boolean> = [];
  for (const [flag, field] of [
    ["src-range", "src"],
    ["dst-range", "dst"],
  ] as const) {
    const option = options.get(flag);
    if (!option) continue;
    const [fromText, toText = fromText] = option.args[0]!.split("-");
    const from = address(fromText!, options, flag);
    const to = address(toText!, options, flag);
    const negated = option.negated;
    tests.push((packet) => (packet[field] >= from && packet[field] <= to) !== negated);
  }
  if (tests.length === 0) throw options.error("give --src-range or --dst-range");
  return (packet) => tests.every((test) => test(packet));
};

/** xt_length.c: the IP header's total length (of the reassembled datagram), within MIN[:MAX]. */
export const lengthMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("length", rawOptions, where);
  const option = options.get("length");
  if (!option) throw options.error("--length is required");
  const match = /^(\d+)?(?::(\d+)?)?$/.exec(option.args[0]!);
  if (!match || (match[1] === undefined && match[2] === undefined)) throw options.error(`--length ${option.args[0]}: expected LENGTH or MIN:MAX`);
  const min = match[1] === undefined ? 0 : Number(match[1]);
  const max = option.args[0]!.includes(":") ? (match[2] === undefined ? 0xffff : Number(match[2])) : min;
  if (min > 0xffff || max > 0xffff) throw options.error(`--length ${option.args[0]}: lengths run from 0 to 65535`);
  const negated = option.negated;
  return (packet) => {
    // IPv4's total length field; ip6t's length_mt6 counts the payload length plus the 40-byte header.
    const total = packet.family === 6 ? ((packet.bytes[4]! << 8) | packet.bytes[5]!) + 40 : (packet.bytes[2]! << 8) | packet.bytes[3]!;
    return (total >= min && total <= max) !== negated;
  };
};

const PACKET_HOST = 0;
const PACKET_BROADCAST = 1;
const PACKET_MULTICAST = 2;
const PACKET_OTHERHOST = 3;
const packetTypes: Record<string, number> = { unicast: PACKET_HOST, host: PACKET_HOST, broadcast: PACKET_BROADCAST, multicast: PACKET_MULTICAST, otherhost: PACKET_OTHERHOST };
const isMulticast = (address: number) => address >>> 28 === 0xe;

/**
 * xt_pkttype.c: the link-layer class of the frame the packet came in. The
 * lab's packets reach the host addressed to it, so a frame is broadcast only
 * for 255.255.255.255 and multicast for 224.0.0.0/4, unicast otherwise.
 */
export const pkttypeMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("pkttype", rawOptions, where);
  const option = options.get("pkt-type");
  if (!option) throw options.error("--pkt-type is required");
  const wanted = packetTypes[option.args[0]!.toLowerCase()];
  if (wanted === undefined) throw options.error(`--pkt-type ${option.args[0]}: one of unicast, broadcast, multicast`);
  const negated = option.negated;
  return (packet) => {
    const type = packet.dst === 0xffffffff ? PACKET_BROADCAST : isMulticast(packet.dst) ? PACKET_MULTICAST : PACKET_HOST;
    return (type === wanted) !== negated;
  };
};

const addressTypes = ["UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE"];

/**
 * xt_addrtype.c: the route type of the source or destination, as
 * inet_addr_type gives it: MULTICAST for 224/4, BROADCAST for 0.0.0.0 and
 * 255.255.255.255, LOCAL for the host's own addresses (127/8 and, with the
 * firewall on the PBX, the PBX's address), UNICAST for the rest. The lab has
 * no blackhole, unreachable or prohibit routes.
 */
export const addrtypeMatch: MatchFactory = (rawOptions, state, where) => {
  const options = new MatchOptions("addrtype", rawOptions, where);
  options.refuse(["limit-iface-in", "limit-iface-out"]);
  const local = new Set(state.localAddresses ?? []);
  const typeOf = (address: number) => {
    if (isMulticast(address)) return "MULTICAST";
    if (address === 0 || address === 0xffffffff) return "BROADCAST";
    if (address >>> 24 === 127 || local.has(address)) return "LOCAL";
    return "UNICAST";
  };
  const tests: Array<(packet: Packet) => boolean> = [];
  for (const [flag, field] of [
    ["src-type", "src"],
    ["dst-type", "dst"],
  ] as const) {
    const option = options.get(flag);
    if (!option) continue;
    const types = new Set(option.args[0]!.toUpperCase().split(","));
    for (const type of types) if (!addressTypes.includes(type)) throw options.error(`--${flag} ${option.args[0]}: unknown address type "${type}" (${addressTypes.join(", ")})`);
    const negated = option.negated;
    tests.push((packet) => types.has(typeOf(packet[field])) !== negated);
  }
  if (tests.length === 0) throw options.error("give --src-type or --dst-type");
  return (packet) => tests.every((test) => test(packet));
};

/** xt_icmp (ip_tables.c icmp_match): only ICMP packets, and never a non-first fragment; the lab's are UDP and TCP. */
export const icmpMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("icmp", rawOptions, where);
  const option = options.get("icmp-type");
  if (!option) return (packet) => packet.protocol === 1 && packet.fragmentOffset === 0;
  const named: Record<string, IcmpTypeCode> = {
    any: [0xff, 0, 0xff],
    "echo-reply": [0, 0, 0xff],
    pong: [0, 0, 0xff],
    "destination-unreachable": [3, 0, 0xff],
    "port-unreachable": [3, 3, 3],
    "source-quench": [4, 0, 0xff],
    redirect: [5, 0, 0xff],
    "echo-request": [8, 0, 0xff],
    ping: [8, 0, 0xff],
    "time-exceeded": [11, 0, 0xff],
    "parameter-problem": [12, 0, 0xff],
    "timestamp-request": [13, 0, 0xff],
    "timestamp-reply": [14, 0, 0xff],
  };
  const range = named[option.args[0]!.toLowerCase()] ?? numericTypeCode(option.args[0]!);
  if (!range) throw options.error(`--icmp-type ${option.args[0]}: a type name or number 0-255 (optionally /code)`);
  return icmpTypeCodeMatch(1, range, option.negated, 0xff);
};
