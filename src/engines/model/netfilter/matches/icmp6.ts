import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";
import { icmpTypeCodeMatch, numericTypeCode, type IcmpTypeCode } from "./icmp-type-code.js";

/** ip6tables' ICMPv6 names (libip6t_icmp6's table, as ip6tables-save prints them back): [type, lowest code, highest code]. */
const ICMPV6_NAMES: Readonly<Record<string, IcmpTypeCode>> = {
  "destination-unreachable": [1, 0, 0xff],
  "no-route": [1, 0, 0],
  "communication-prohibited": [1, 1, 1],
  "beyond-scope": [1, 2, 2],
  "address-unreachable": [1, 3, 3],
  "port-unreachable": [1, 4, 4],
  "failed-policy": [1, 5, 5],
  "reject-route": [1, 6, 6],
  "packet-too-big": [2, 0, 0xff],
  "time-exceeded": [3, 0, 0xff],
  "ttl-exceeded": [3, 0, 0xff],
  "ttl-zero-during-transit": [3, 0, 0],
  "ttl-zero-during-reassembly": [3, 1, 1],
  "parameter-problem": [4, 0, 0xff],
  "bad-header": [4, 0, 0],
  "unknown-header-type": [4, 1, 1],
  "unknown-option": [4, 2, 2],
  "echo-request": [128, 0, 0xff],
  ping: [128, 0, 0xff],
  "echo-reply": [129, 0, 0xff],
  pong: [129, 0, 0xff],
  "router-solicitation": [133, 0, 0xff],
  "router-advertisement": [134, 0, 0xff],
  "neighbour-solicitation": [135, 0, 0xff],
  "neighbor-solicitation": [135, 0, 0xff],
  "neighbour-advertisement": [136, 0, 0xff],
  "neighbor-advertisement": [136, 0, 0xff],
  redirect: [137, 0, 0xff],
};

/**
 * ip6_tables.c icmp6_match (icmp-type-code.ts). Unlike IPv4's icmp there is
 * no "any". The parser has already tied it to `-p ipv6-icmp`, as the
 * kernel's checkentry does.
 */
export const icmp6Match: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("icmp6", rawOptions, where);
  const option = options.get("icmpv6-type");
  if (!option) throw options.error("--icmpv6-type is required");
  const text = option.args[0]!;
  const range = ICMPV6_NAMES[text.toLowerCase()] ?? numericTypeCode(text);
  if (!range) throw options.error(`--icmpv6-type ${text}: a type name (${Object.keys(ICMPV6_NAMES).join(", ")}) or number 0-255, optionally /code`);
  return icmpTypeCodeMatch(58, range, option.negated, null);
};
