import { cidrContains, parseCidr, parseIpv4 } from "../../../net/address.js";
import { ipv6BytesOf, ipv6InPrefix, ipv6Number, isIpv6Number } from "../../../net/address-number.js";
import { parseIpv6, parseIpv6Cidr } from "../../../net/ipv6-address.js";
import type { NftToken } from "../../../firewall/nft/nft-ruleset.js";
import { protocolNumbers } from "../netfilter/interpreter.js";
import { lookupTable, SERVICE_PORTS } from "../../../net/netbase-names.js";

/**
 * The values a rule compares a field with, as nft's parser reads them for
 * each type: addresses (single, prefix, range), ports and numbers (single,
 * range, service and protocol names), interface names (with a trailing `*`),
 * and lists of them in an anonymous set `{ a, b }`. Each becomes a test of a
 * number (or a name) the packet gives.
 */

export type FieldType = "ipv4_addr" | "ipv6_addr" | "inet_service" | "inet_proto" | "integer" | "ifname" | "ct_state" | "ct_status" | "ct_dir" | "pkttype" | "mark" | "ether_type" | "dscp" | "ecn" | "boolean";

export class NftValueError extends Error {}

/** NF_CT_STATE_*_BIT as nft_ct reads them: IP_CT_ESTABLISHED=0, RELATED=1, NEW=2, INVALID (bit 0), UNTRACKED (bit 6). */
export const CT_STATE_BITS: Readonly<Record<string, number>> = lookupTable({ invalid: 1, established: 2, related: 4, new: 8, untracked: 64 });
/** nft's ct_status_tbl (src/ct.c): the IPS_* bits `ct status` names. */
export const CT_STATUS_BITS: Readonly<Record<string, number>> = lookupTable({ expected: 1, "seen-reply": 2, assured: 4, confirmed: 8, snat: 16, dnat: 32, dying: 512 });
/** Flag types: a value names bits, and the packet's field matches when any of them is set. */
const FLAG_TYPES: Partial<Record<FieldType, { readonly bits: Readonly<Record<string, number>>; readonly what: string }>> = {
  ct_state: { bits: CT_STATE_BITS, what: "a ct state (new, established, related, invalid, untracked)" },
  ct_status: { bits: CT_STATUS_BITS, what: "a ct status (expected, seen-reply, assured, confirmed, snat, dnat, dying)" },
};
const PKTTYPES: Readonly<Record<string, number>> = lookupTable({ host: 0, unicast: 0, broadcast: 1, multicast: 2, other: 3 });
/** nft's ethertype_tbl (src/proto.c): `meta protocol ip`, `meta protocol vmap { ip : ..., ip6 : ... }`. */
/** nft's ct_dir_tbl: `ct direction original|reply`. */
const CT_DIRECTIONS: Readonly<Record<string, number>> = lookupTable({ original: 0, reply: 1 });
const ETHER_TYPES: Readonly<Record<string, number>> = lookupTable({ ip: 0x0800, arp: 0x0806, ip6: 0x86dd, "8021q": 0x8100, vlan: 0x8100, "8021ad": 0x88a8 });
/** nft's dscp_type_tbl (src/proto.c): the code point's names; `le` is left out, nft reads it as the operator. */
const DSCP_NAMES: Readonly<Record<string, number>> = lookupTable({
  cs0: 0x00, cs1: 0x08, cs2: 0x10, cs3: 0x18, cs4: 0x20, cs5: 0x28, cs6: 0x30, cs7: 0x38, df: 0x00, be: 0x00, lephb: 0x01,
  af11: 0x0a, af12: 0x0c, af13: 0x0e, af21: 0x12, af22: 0x14, af23: 0x16, af31: 0x1a, af32: 0x1c, af33: 0x1e, af41: 0x22, af42: 0x24, af43: 0x26, va: 0x2c, ef: 0x2e,
});

/** nft's ecn_type_tbl (src/proto.c): `ip ecn ce`, `ip6 ecn not-ect`. */
const ECN_NAMES: Readonly<Record<string, number>> = lookupTable({ "not-ect": 0, ect1: 1, ect0: 2, ce: 3 });

/** nft's boolean_type: `meta secpath exists`. */
const BOOLEAN_NAMES: Readonly<Record<string, number>> = lookupTable({ exists: 1, missing: 0 });

/** The symbol table of a type whose values have names besides numbers. */
function namesOf(type: FieldType): Readonly<Record<string, number>> | undefined {
  // Services as nft resolves them, through /etc/services (`nft list` prints numbers).
  return type === "inet_service" ? SERVICE_PORTS : type === "pkttype" ? PKTTYPES : type === "ct_dir" ? CT_DIRECTIONS : type === "ether_type" ? ETHER_TYPES : type === "dscp" ? DSCP_NAMES : type === "ecn" ? ECN_NAMES : type === "boolean" ? BOOLEAN_NAMES : undefined;
}

/** One value as a test of a number: equal, within a range, or within a prefix. */
type NumberTest = (value: number) => boolean;

function parseNumber(text: string, type: FieldType): number {
  const named = type === "inet_proto" ? (text !== "all" ? protocolNumbers[text] : undefined) : namesOf(type)?.[text];
  if (named !== undefined) return named;
  if (/^(0x[0-9a-f]+|\d+)$/i.test(text)) return Number(text);
  const what = type === "inet_service" ? "port" : type === "inet_proto" ? "protocol" : type === "ether_type" ? "protocol (ip, ip6, arp, vlan, or a number)" : type === "dscp" ? "DSCP (cs0-cs7, af11-af43, ef, va, be, df, or a number)" : type === "ecn" ? "ECN value (not-ect, ect1, ect0, ce, or a number)" : "number";
  throw new NftValueError(`"${text}" is not a ${what}`);
}

function isName(text: string, type: FieldType): boolean {
  return (type === "inet_proto" ? protocolNumbers[text] : namesOf(type)?.[text]) !== undefined;
}

/** One element's number as a set keys it: an address, a port or protocol (by name too), a mark. */
export function parseSingleValue(text: string, type: FieldType): number {
  const flags = FLAG_TYPES[type];
  if (flags) {
    const bit = flags.bits[text];
    if (bit === undefined) throw new NftValueError(`"${text}" is not ${flags.what}`);
    return bit;
  }
  if (type === "ipv6_addr") {
    try {
      return ipv6Number(parseIpv6(text));
    } catch {
      throw new NftValueError(`"${text}" is not an IPv6 address`);
    }
  }
  if (type !== "ipv4_addr") return parseNumber(text, type);
  try {
    return parseIpv4(text);
  } catch {
    throw new NftValueError(`"${text}" is not an IPv4 address`);
  }
}

function numberTest(text: string, type: FieldType): NumberTest {
  if (type === "ipv6_addr") {
    // IPv6 values are address numbers (address-number.ts): a range compares their bytes, a prefix its leading bits.
    try {
      const range = /^([0-9a-f:.]+)-([0-9a-f:.]+)$/i.exec(text);
      if (range) {
        const [low, high] = [parseIpv6(range[1]!), parseIpv6(range[2]!)];
        return (value) => isIpv6Number(value) && compareBytes(ipv6BytesOf(value), low) >= 0 && compareBytes(ipv6BytesOf(value), high) <= 0;
      }
      const { network, prefixLength } = parseIpv6Cidr(text);
      if (prefixLength === 128) {
        const wanted = ipv6Number(network);
        return (value) => value === wanted;
      }
      return (value) => ipv6InPrefix(value, network, prefixLength);
    } catch {
      throw new NftValueError(`"${text}" is not an IPv6 address, prefix or range`);
    }
  }
  if (type === "ipv4_addr") {
    const range = /^(\d+\.\d+\.\d+\.\d+)-(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (range) {
      const [low, high] = [parseIpv4(range[1]!), parseIpv4(range[2]!)];
      return (value) => value >= low && value <= high;
    }
    try {
      const cidr = parseCidr(text);
      return (value) => cidrContains(cidr, value);
    } catch {
      throw new NftValueError(`"${text}" is not an IPv4 address, prefix or range${hostNameHint(text)}`);
    }
  }
  // A name with a dash (ipv6-icmp) is a name, not a range.
  const range = isName(text, type) ? null : /^([^-]+)-([^-]+)$/.exec(text);
  if (range) {
    const [low, high] = [parseNumber(range[1]!, type), parseNumber(range[2]!, type)];
    return (value) => value >= low && value <= high;
  }
  const wanted = parseNumber(text, type);
  return (value) => value === wanted;
}

/** nft resolves a host name when it loads the ruleset (getaddrinfo); the model has no resolver, and a name's addresses change. */
function hostNameHint(text: string): string {
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(text) && /[a-z]/i.test(text) ? ": it is a host name, which nft resolves when it loads the ruleset; write the addresses it resolves to" : "";
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let index = 0; index < 16; index++) if (a[index] !== b[index]) return a[index]! - b[index]!;
  return 0;
}

/** The items of a value: `{ a, b }`, a comma list `a,b` (flags), or one item. */
export function valueItems(tokens: readonly NftToken[]): string[] {
  const words = tokens.map((token) => token.text).filter((text) => text !== "{" && text !== "}");
  return words.flatMap((word) => (word.startsWith("@") ? [word] : word.split(","))).filter((word) => word !== "");
}

/** A test of a packet's number (or a flags bitmask for ct state) against the value's items. */
export function compileNumberValue(tokens: readonly NftToken[], type: FieldType): NumberTest {
  const items = valueItems(tokens);
  if (items.length === 0) throw new NftValueError("a value is missing");
  const flags = FLAG_TYPES[type];
  if (flags) {
    let mask = 0;
    for (const item of items) {
      const bit = flags.bits[item];
      if (bit === undefined) throw new NftValueError(`"${item}" is not ${flags.what}`);
      mask |= bit;
    }
    // A flags type: the packet's state bit is in the list.
    return (value) => (value & mask) !== 0;
  }
  const tests = items.map((item) => numberTest(item, type));
  return tests.length === 1 ? tests[0]! : (value) => tests.some((test) => test(value));
}

/** Interface names: exact, or a prefix when written with a trailing `*`. */
export function compileNameValue(tokens: readonly NftToken[]): (name: string) => boolean {
  const items = valueItems(tokens);
  if (items.length === 0) throw new NftValueError("an interface name is missing");
  const tests = items.map((item) => (item.endsWith("*") ? (name: string) => name.startsWith(item.slice(0, -1)) : (name: string) => name === item));
  return (name) => tests.some((test) => test(name));
}
