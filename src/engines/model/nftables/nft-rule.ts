import { ipv6MaskPrefix, parseIpv6 } from "../../../net/ipv6-address.js";
import { maskedIpv6Number } from "../../../net/address-number.js";
import { splitElements, type NftCtHelper, type NftRule, type NftToken } from "../../../firewall/nft/nft-ruleset.js";
import { parseNftDuration } from "../../../firewall/nft/parse-nft.js";
import type { Packet } from "../../../net/packet.js";
import type { ConnectionMarks, CtState } from "../netfilter/match.js";
import type { KernelSettings } from "../kernel-settings.js";
import { nftLimitBucket, type NftLimitSpec } from "./nft-limit.js";
import { msToJiffies, RuntimeNftSet, type NftElementExpression, type NftTuple } from "./nft-sets.js";
import { collectStale, countConnection, type Listed } from "../netfilter/conncount-list.js";
import { compileNameValue, compileNumberValue, CT_STATE_BITS, CT_STATUS_BITS, NftValueError, parseSingleValue, valueItems, type FieldType } from "./nft-values.js";
import { rewriteIpv4HeaderByte } from "../../../net/ipv4.js";
import { rewriteIpv4TcpBytes } from "../../../net/tcp-segment.js";
import { routingHeaderOffset } from "../../../net/ipv6.js";
import { routeTypeOf } from "../../../net/route-type.js";
import { forkRandom } from "../../../traffic/random.js";
import { parseIpv4 } from "../../../net/address.js";
import type { NftVerdict } from "./nft-verdict.js";
import { bigEndianAt, BYTE_UNITS, FIB_TYPES, HEADER_FIELDS, ICMP_TYPES, ICMPV6_TYPE_NUMBERS, TCP_FLAG_BITS, TCP_OPTIONS, tcpOptionOf, WEEKDAYS } from "./nft-packet-fields.js";
import type { ConnectionNat, NatTarget } from "../netfilter/nat.js";

export type { NftVerdict } from "./nft-verdict.js";

/**
 * One nft rule compiled into steps run in order, as nft_do_chain runs a
 * rule's expressions: a step that does not hold breaks the rule (NFT_BREAK)
 * and the next rule runs; statements (counter, log, set updates, mark
 * setting) act where they stand; the verdict at the end decides.
 */

/** What a rule reads of a packet and may change, for one packet at one hook. */
export interface NftPacketState {
  packet: Packet;
  jiffies: number;
  clockNs: number;
  ctState: CtState;
  connection: ConnectionMarks | null;
  inName: string;
  outName: string;
  /** skb->mark. */
  mark: number;
  /** `notrack` in a chain before conntrack. */
  notrack: boolean;
  /** The verdict a `vmap` found for this packet in the rule being run; null when it has none. */
  mapVerdict: NftVerdict | null;
  /** The packet's connection is ASSURED (conntrack's IPS_ASSURED): nf_conncount adds no connection for it. */
  ctAssured: boolean;
  /** The packet goes the reply way of its connection. */
  ctReply: boolean;
  /** Its connection has seen a reply (IPS_SEEN_REPLY). */
  ctSeenReply: boolean;
  /** Its connection's NAT, whose decided ends are IPS_SRC_NAT_DONE and IPS_DST_NAT_DONE; null without one. */
  ctNat: ConnectionNat | null;
  /** What a nat chain's `dnat`/`snat`/`masquerade`/`redirect` mapped the packet's connection to; null when none ran. */
  natTarget: NatTarget | null;
}

export interface CompiledNftRule {
  readonly rule: NftRule;
  readonly steps: ReadonlyArray<(state: NftPacketState) => boolean>;
  /** The verdict; none means the rule only acts (continue). */
  readonly verdict: NftVerdict;
}

/** Raised for a construct the model does not interpret; the caller names the file and line. */
export class NftConstructError extends Error {}

const TRANSPORT = new Set([6, 17, 33, 132, 136]);
/** Fields written as one word (nft lists `meta l4proto` as `l4proto`): a concatenation's dot then stands second. */
const ONE_WORD_FIELDS = new Set(["iifname", "oifname", "iif", "oif", "l4proto", "mark"]);
/** The items of an anonymous set `{ a, b|c }`, each as written, spaces dropped. */
const valueItemsOf = (tokens: readonly NftToken[]): string[] =>
  tokens
    .map((token) => token.text)
    .filter((text) => text !== "{" && text !== "}")
    .join(" ")
    .split(/\s*,\s*/)
    .map((item) => item.replace(/\s+/g, ""))
    .filter((item) => item !== "");
const CT_STATE_BIT: Readonly<Record<CtState, number>> = { INVALID: CT_STATE_BITS.invalid!, ESTABLISHED: CT_STATE_BITS.established!, RELATED: CT_STATE_BITS.related!, NEW: CT_STATE_BITS.new!, UNTRACKED: CT_STATE_BITS.untracked! };

/** IPS_SRC_NAT_DONE, IPS_DST_NAT_DONE: the NAT core decided that end (a mapping or the null binding). */
const SRC_NAT_DONE = 0x80;
const DST_NAT_DONE = 0x100;

/** ct->status as `ct status` reads it: the IPS_* bits the model keeps (no helper expects a connection, none is dying). */
function ctStatusOf(state: NftPacketState): number {
  const connection = state.connection!;
  const nat = state.ctNat;
  return (
    (state.ctSeenReply ? CT_STATUS_BITS["seen-reply"]! : 0) |
    (state.ctAssured ? CT_STATUS_BITS.assured! : 0) |
    (connection.confirmed ? CT_STATUS_BITS.confirmed! : 0) |
    (connection.natted?.("src") ? CT_STATUS_BITS.snat! : 0) |
    (connection.natted?.("dst") ? CT_STATUS_BITS.dnat! : 0) |
    (nat?.initialized("src") ? SRC_NAT_DONE : 0) |
    (nat?.initialized("dst") ? DST_NAT_DONE : 0)
  );
}

export interface RuleScope {
  readonly sets: ReadonlyMap<string, RuntimeNftSet>;
  readonly chains: ReadonlySet<string>;
  readonly settings: KernelSettings;
  /** Meters are anonymous sets that live as long as the rule: one per meter name. */
  readonly meters: Map<string, RuntimeNftSet>;
  /** The firewall host's own addresses: fib's type local. */
  readonly localAddresses?: readonly number[];
  /** The table's named counter objects, which `counter name NAME` names. */
  readonly counters?: ReadonlySet<string>;
  /** The type of the base chain the rule is in (filter, nat, route); none for a regular chain. */
  readonly chainType?: string;
  /** The table's ct helper objects, which `ct helper set "NAME"` assigns. */
  readonly ctHelpers?: ReadonlyMap<string, NftCtHelper>;
  /** The wall clock's time when the run starts (ms since the epoch), which `meta time|day|hour` read; absent, the real time. */
  readonly wallClockStartMs?: number;
  /** The table's named quotas and limits ("quota NAME", "limit NAME"), each one step whose state every rule naming it shares. */
  readonly namedObjects?: ReadonlyMap<string, (state: NftPacketState) => boolean>;
}

export function compileNftRule(rule: NftRule, scope: RuleScope): CompiledNftRule {
  const tokens = rule.tokens;
  const steps: Array<(state: NftPacketState) => boolean> = [];
  let verdict: NftVerdict = { kind: "continue" };
  let at = 0;
  const word = (offset = 0) => tokens[at + offset]?.text;
  const fail = (message: string): never => {
    throw new NftConstructError(message);
  };

  /** An operator (==, !=, <, >, <=, >=) if one stands here. */
  const readOperator = (): string => {
    const text = word();
    const operators: Record<string, string> = { "==": "==", eq: "==", "!=": "!=", ne: "!=", "<": "<", lt: "<", ">": ">", gt: ">", "<=": "<=", le: "<=", ">=": ">=", ge: ">=" };
    if (text !== undefined && operators[text] && !tokens[at]!.quoted) {
      at++;
      return operators[text]!;
    }
    return "==";
  };
  /** The value's tokens: an anonymous set { ... }, a set reference, or one token. */
  const readValue = (): NftToken[] => {
    if (at >= tokens.length) fail("a value is missing at the end of the rule");
    if (word() === "{") {
      const start = at;
      let depth = 0;
      for (; at < tokens.length; at++) {
        if (word() === "{") depth++;
        if (word() === "}" && --depth === 0) break;
      }
      if (depth !== 0) fail("an anonymous set { ... } is not closed");
      at++;
      return tokens.slice(start, at);
    }
    return [tokens[at++]!];
  };
  /**
   * The map a `vmap` or `map` reads: `@NAME` (a map of the table, its key
   * type the field's) or an anonymous one written in the rule `{ KEY : DATA, ... }`.
   */
  const readMap = (types: readonly FieldType[], data: "verdict" | "value"): RuntimeNftSet => {
    const keyType = types.join(" . ");
    const operator = tokens[at - 1]!.text;
    if (word()?.startsWith("@")) {
      const name = word()!.slice(1);
      at++;
      const map = scope.sets.get(name) ?? fail(`${operator} @${name}: no such map in this table`);
      if (map.data === null) fail(`${operator} @${name}: ${name} is a set, not a map`);
      if ((map.data === "verdict") !== (data === "verdict")) fail(`${operator} @${name}: ${name} maps to ${map.data}${data === "verdict" ? "; vmap needs a map to verdicts" : "; map needs a map to values (vmap reads verdicts)"}`);
      if (map.keyType !== keyType) fail(`${operator} @${name}: the map's keys are ${map.keyType}, the ${types.length > 1 ? "concatenation" : "field"} is ${keyType}`);
      return map;
    }
    if (word() !== "{") fail(`${operator} needs { KEY : ${data === "verdict" ? "VERDICT" : "VALUE"}, ... } or @MAP`);
    const written = splitElements(readValue().slice(1, -1), true);
    if (written.length === 0) fail(`${operator} { } has no elements`);
    // An anonymous map's data type: a verdict, or a value of the field the statement sets (a mark).
    return new RuntimeNftSet({ name: operator, line: rule.line, type: [...types], data: data === "verdict" ? "verdict" : "mark", flags: new Set(), timeoutMs: 0, size: 0, elements: written }, scope.settings.hz, scope.settings.startJiffies, scope.chains);
  };
  /**
   * `KEY vmap { ELEMENT : VERDICT, ... }` or `KEY vmap @MAP`: nft_lookup in
   * a verdict map; a key in no element breaks the rule, as a set lookup
   * that fails does.
   */
  const verdictMap = (type: FieldType, read: (state: NftPacketState) => number | null) => {
    at++;
    const map = readMap([type], "verdict");
    steps.push((state) => {
      const number = read(state);
      if (number === null) return false;
      const element = map.lookup(number, state.jiffies);
      if (!element) return false;
      state.mapVerdict = element.data as NftVerdict;
      return true;
    });
  };
  /**
   * nft_numgen.c: `numgen inc mod N [offset M]` counts 0 to N-1 round and
   * round, per expression, from 0 for the first packet that reaches it
   * (nft_ng_inc_init starts the counter at N-1); `numgen random mod N
   * [offset M]` scales a random 32-bit number to N (reciprocal_scale), here
   * from a generator seeded by the rule's line, so a run repeats itself.
   */
  const numberGenerator = (): ((state: NftPacketState) => number) => {
    const mode = word(1);
    if (mode !== "inc" && mode !== "random") fail(`numgen ${mode ?? ""}: inc or random`);
    if (word(2) !== "mod") fail("numgen needs mod N");
    const modulus = Number(word(3));
    if (!(Number.isInteger(modulus) && modulus >= 1 && modulus <= 0xffffffff)) fail(`numgen mod ${word(3) ?? ""}: a whole number from 1`);
    at += 4;
    let offset = 0;
    if (word() === "offset") {
      offset = Number(word(1));
      if (!(Number.isInteger(offset) && offset >= 0 && offset <= 0xffffffff)) fail(`numgen offset ${word(1) ?? ""}: a whole number from 0`);
      at += 2;
    }
    if (mode === "inc") {
      let counter = modulus - 1;
      return () => {
        counter = counter + 1 < modulus ? counter + 1 : 0;
        return counter + offset;
      };
    }
    const random = forkRandom(0, `numgen at line ${tokens[0]?.line ?? 0}`);
    return () => Math.floor(random() * modulus) + offset;
  };
  /** A comparison of a number the packet gives with the value that follows (or a verdict map keyed by it). */
  const compare = (type: FieldType, readField: (state: NftPacketState) => number | null) => {
    // `FIELD & MASK OP VALUE`: nft_bitwise masks the loaded field before the compare.
    let read = readField;
    const mask = readMask(type);
    if (mask !== null) {
      read = (state) => {
        const number = readField(state);
        return number === null ? null : (number & mask) >>> 0;
      };
    }
    if (word() === "vmap") {
      verdictMap(type, read);
      return;
    }
    const operator = readOperator();
    const value = readValue();
    const reference = value.length === 1 && value[0]!.text.startsWith("@") && !value[0]!.quoted ? value[0]!.text.slice(1) : null;
    let holds: (value: number, state: NftPacketState) => boolean;
    if (reference !== null) {
      const set = scope.sets.get(reference) ?? fail(`@${reference}: no such set in this table`);
      if (set.types.length > 1) fail(`@${reference} holds ${set.keyType}, and this is one field (${type}); join the fields with " . "`);
      holds = (number, state) => set.has(number, state.jiffies);
    } else if (operator === "<" || operator === ">" || operator === "<=" || operator === ">=") {
      const bound = value.length === 1 ? Number(value[0]!.text) : Number.NaN;
      if (!Number.isFinite(bound)) fail(`${operator} needs one number`);
      holds = operator === "<" ? (n) => n < bound : operator === ">" ? (n) => n > bound : operator === "<=" ? (n) => n <= bound : (n) => n >= bound;
    } else {
      const test = compileNumberValue(value, type);
      holds = (number) => test(number);
    }
    const negated = operator === "!=";
    steps.push((state) => {
      const number = read(state);
      return number !== null && holds(number, state) !== negated;
    });
  };
  const compareName = (read: (state: NftPacketState) => string) => {
    const operator = readOperator();
    const test = compileNameValue(readValue());
    const negated = operator === "!=";
    steps.push((state) => test(read(state)) !== negated);
  };
  const transport = (packet: Packet, protocols: ReadonlySet<number>) => packet.fragmentOffset === 0 && protocols.has(packet.protocol) && packet.bytes.length >= packet.headerLength + 4;

  try {
    while (at < tokens.length) {
      const key = word()!;
      const token = tokens[at]!;
      if (token.quoted) fail(`unexpected "${key}"`);
      if (concatenationAhead()) {
        concatenationMatch(readConcatenation());
        continue;
      }
      if (key === "ip") {
        const field = word(1);
        at += 2;
        // An IPv4 header field: an IPv6 packet in an inet table never holds it (the implicit meta nfproto ipv4).
        const ipv4 = (read: (packet: Packet) => number) => (state: NftPacketState) => (state.packet.family === 4 ? read(state.packet) : null);
        if (field === "dscp" && word() === "set") {
          // nft_payload's set with its checksum update: the TOS byte's code point rewritten, ECN kept, the header checksum fixed.
          at++;
          const dscp = parseSingleValue(readValue()[0]!.text, "dscp");
          if (dscp > 0x3f) fail(`ip dscp set ${dscp}: a code point is 6 bits (0 to 63)`);
          steps.push((state) => {
            if (state.packet.family === 4) state.packet = rewriteIpv4HeaderByte(state.packet, 1, (dscp << 2) | (state.packet.bytes[1]! & 0x03));
            return true;
          });
          continue;
        }
        if (field === "saddr") compare("ipv4_addr", ipv4((packet) => packet.src));
        else if (field === "daddr") compare("ipv4_addr", ipv4((packet) => packet.dst));
        else if (field === "protocol") compare("inet_proto", ipv4((packet) => packet.protocol));
        else if (field === "ttl") compare("integer", ipv4((packet) => packet.ttl));
        else if (field === "length") compare("integer", ipv4((packet) => packet.bytes.length));
        else if (field === "dscp") compare("dscp", ipv4((packet) => packet.bytes[1]! >> 2));
        else if (field === "ecn") compare("ecn", ipv4((packet) => packet.bytes[1]! & 0x03));
        else if (field === "id") compare("integer", ipv4((packet) => (packet.bytes[4]! << 8) | packet.bytes[5]!));
        // The flags and the fragment offset as one 16-bit field: rules mask it (`ip frag-off & 0x1fff != 0`, a later fragment).
        else if (field === "frag-off") compare("integer", ipv4((packet) => (packet.bytes[6]! << 8) | packet.bytes[7]!));
        else if (field === "version") compare("integer", ipv4((packet) => packet.bytes[0]! >> 4));
        else if (field === "hdrlength") compare("integer", ipv4((packet) => packet.bytes[0]! & 0x0f));
        else fail(`ip ${field} is not modelled (saddr, daddr, protocol, ttl, length, dscp, ecn, id, frag-off, version, hdrlength are)`);
        continue;
      }
      if (key === "ip6") {
        // An IPv6 header field: an IPv4 packet never holds it (the implicit meta nfproto ipv6).
        const field = word(1);
        at += 2;
        const ipv6 = (read: (packet: Packet) => number) => (state: NftPacketState) => (state.packet.family === 6 ? read(state.packet) : null);
        if (field === "saddr" || field === "daddr") {
          const masked = addressMask();
          compare("ipv6_addr", ipv6((packet) => masked(field === "saddr" ? packet.src : packet.dst)));
        } else if (field === "nexthdr") compare("inet_proto", ipv6((packet) => packet.protocol));
        else if (field === "hoplimit") compare("integer", ipv6((packet) => packet.ttl));
        else if (field === "length") compare("integer", ipv6((packet) => (packet.bytes[4]! << 8) | packet.bytes[5]!));
        // The traffic class straddles the first two bytes: its DSCP is their bits 4-9, its ECN bits 10-11.
        else if (field === "dscp") compare("dscp", ipv6((packet) => ((packet.bytes[0]! & 0x0f) << 2) | (packet.bytes[1]! >> 6)));
        else if (field === "ecn") compare("ecn", ipv6((packet) => (packet.bytes[1]! >> 4) & 0x03));
        else if (field === "flowlabel") compare("integer", ipv6((packet) => ((packet.bytes[1]! & 0x0f) << 16) | (packet.bytes[2]! << 8) | packet.bytes[3]!));
        else fail(`ip6 ${field} is not modelled (saddr, daddr, nexthdr, hoplimit, length, dscp, ecn, flowlabel are)`);
        continue;
      }
      if (key === "icmpv6") {
        steps.push(icmpStep("icmpv6"));
        continue;
      }
      if (key === "rt" && RT_EXTHDR_FIELDS.has(word(1) ?? "")) {
        // nft_exthdr on the routing header: a packet without one (or an IPv4 packet) breaks the rule, `!=` included.
        const field = word(1)!;
        at += 2;
        const offset = RT_EXTHDR_FIELDS.get(field)!;
        const header = (state: NftPacketState) => {
          if (state.packet.family !== 6) return null;
          const start = routingHeaderOffset(state.packet.bytes);
          return start < 0 ? null : state.packet.bytes[start + offset]!;
        };
        if (field === "nexthdr") compare("inet_proto", header);
        else compare("integer", header);
        continue;
      }
      if (key === "rt") fail(`rt ${word(1) ?? ""}: nft_rt's route lookups (nexthop, mtu, classid, ipsec) are not modelled; the routing header's fields (rt type, seg-left, hdrlength, nexthdr) are`);
      if (key === "fib") {
        steps.push(fibStep());
        continue;
      }
      if (key === "icmp") {
        steps.push(icmpStep("icmp"));
        continue;
      }
      if (key === "tcp" && word(1) === "option") {
        at += 2;
        tcpOptionStep();
        continue;
      }
      if (key === "tcp" && word(1) === "flags") {
        at += 2;
        steps.push(tcpFlagsStep());
        continue;
      }
      if (key === "udp" || key === "tcp" || key === "th") {
        const field = word(1);
        at += 2;
        const protocols = key === "th" ? TRANSPORT : new Set([key === "udp" ? 17 : 6]);
        if (field === "sport") compare("inet_service", (state) => (transport(state.packet, protocols) ? state.packet.sport : null));
        else if (field === "dport") compare("inet_service", (state) => (transport(state.packet, protocols) ? state.packet.dport : null));
        else if (key !== "th" && field !== undefined && Object.hasOwn(HEADER_FIELDS[key], field)) {
          const { offset, bytes, shift = 0 } = HEADER_FIELDS[key][field]!;
          compare("integer", (state) => {
            const packet = state.packet;
            // nft_payload: a field past the packet's end breaks the rule.
            if (!transport(packet, protocols) || packet.bytes.length < packet.headerLength + offset + bytes) return null;
            return bigEndianAt(packet.bytes, packet.headerLength + offset, bytes) >>> shift;
          });
        } else fail(`${key} ${field} is not modelled (sport, dport${key === "th" ? "" : `, ${Object.keys(HEADER_FIELDS[key]).join(", ")}`} are, and tcp flags)`);
        continue;
      }
      const metaKeys = ["l4proto", "nfproto", "iifname", "oifname", "iif", "oif", "mark", "pkttype", "protocol", "length", "time", "day", "hour"];
      if (key === "meta" || metaKeys.includes(key)) {
        const field = key === "meta" ? word(1)! : key;
        at += key === "meta" ? 2 : 1;
        if (word() === "set") {
          const value = readMarkSet("meta", field);
          steps.push((state) => {
            const mark = value(state);
            if (mark === null) return false;
            state.mark = mark;
            return true;
          });
          continue;
        }
        if (field === "l4proto") compare("inet_proto", (state) => state.packet.protocol);
        else if (field === "nfproto") {
          const operator = readOperator();
          const families = new Set(valueItems(readValue()).map((item) => (item === "ipv6" ? 6 : item === "ipv4" ? 4 : 0)));
          steps.push((state) => families.has(state.packet.family) !== (operator === "!="));
        } else if (field === "protocol") compare("ether_type", (state) => (state.packet.family === 6 ? 0x86dd : 0x0800));
        else if (field === "iifname" || field === "iif") compareName((state) => state.inName);
        else if (field === "oifname" || field === "oif") compareName((state) => state.outName);
        else if (field === "mark") compare("mark", (state) => state.mark);
        else if (field === "pkttype") compare("pkttype", () => 0);
        else if (field === "length") compare("integer", (state) => state.packet.bytes.length);
        else if (field === "time" || field === "day" || field === "hour") steps.push(wallClockStep(field));
        // NFT_META_SECPATH (`nft list` prints it as meta ipsec): whether IPsec handled the packet; none in the lab did.
        else if (field === "secpath" || field === "ipsec") compare("boolean", () => 0);
        else fail(`meta ${field} is not modelled`);
        continue;
      }
      if (key === "ct") {
        const field = word(1);
        at += 2;
        if (field === "helper" && word() === "set") {
          at++;
          steps.push(helperAssignment());
          continue;
        }
        if (field === "helper") {
          // nft_ct_get_eval NFT_CT_HELPER reads the helper of the connection's master: only a connection a helper expected
          // (RTP after SIP) has one, and the model keeps no expectations, so the rule breaks, `!=` too, as -m helper never matches.
          readOperator();
          compileNameValue(readValue());
          steps.push(() => false);
          continue;
        }
        if (word() === "set") {
          const value = readMarkSet("ct", field ?? "");
          steps.push((state) => {
            const mark = value(state);
            if (mark === null) return false;
            if (state.connection) state.connection.mark = mark;
            return true;
          });
          continue;
        }
        if (field === "count") {
          // One list for the rule (nft_connlimit's own), however many sources reach it.
          const count = connectionCount(readConnectionCount());
          steps.push((state) => count.holds(state));
          continue;
        }
        if (field === "state") compare("ct_state", (state) => CT_STATE_BIT[state.ctState]);
        // Without a connection (before conntrack, untracked, invalid) nft_ct_get_eval breaks the rule for any key but state.
        else if (field === "status") steps.push(bitmaskStep(CT_STATUS_BITS, "ct status", "a ct status (expected, seen-reply, assured, confirmed, snat, dnat, dying)", 0xffffffff, (state) => (state.connection === null ? null : ctStatusOf(state))));
        else if (field === "direction") compare("ct_dir", (state) => (state.connection === null ? null : state.ctReply ? 1 : 0));
        else if (field === "mark") compare("mark", (state) => (state.connection ? state.connection.mark : null));
        else fail(`ct ${field} is not modelled (ct state, status, direction, mark and count are, and ct helper set)`);
        continue;
      }
      const raw = /^@(th|nh|ih),(\d+),(\d+)$/.exec(key);
      if (raw) {
        at++;
        // `@th,64,8 & 0x80 == 0x80`: nft_bitwise masks the loaded bits before the compare.
        let bitmask: string | null = null;
        if (word() === "&" && !tokens[at]!.quoted) {
          bitmask = tokens[at + 1]?.text ?? "";
          at += 2;
        }
        steps.push(rawPayloadStep(raw[1] as "th" | "nh" | "ih", Number(raw[2]), Number(raw[3]), readOperator(), readValue(), fail, bitmask));
        continue;
      }
      if (key === "counter") {
        at++;
        if (word() === "packets") at += 4;
        if (word() === "name") {
          // A named counter object counts; it decides nothing. nft refuses a name its table does not declare.
          const name = word(1) ?? fail("counter name needs the counter's name");
          if (!scope.counters?.has(name)) fail(`counter name ${name}: no counter ${name} in this table (declare it: counter ${name} { })`);
          at += 2;
        }
        continue;
      }
      if (key === "log") {
        at++;
        while (["prefix", "level", "group", "snaplen", "queue-threshold", "flags"].includes(word() ?? "")) at += 2;
        continue;
      }
      if (key === "comment") {
        at += 2;
        continue;
      }
      if ((key === "limit" || key === "quota") && word(1) === "name") {
        // A named object's state is shared by every rule that names it (nft_objref).
        const name = word(2) ?? fail(`${key} name needs the object's name`);
        if (word(3) === "map" || name.startsWith("@")) fail(`${key} name by a map is not modelled; name the object`);
        const named = scope.namedObjects?.get(`${key} ${name}`) ?? fail(`${key} name ${name}: no ${key} ${name} in this table (declare it: ${key} ${name} { ${key === "limit" ? "rate 10/second" : "over 25 mbytes"} })`);
        at += 3;
        steps.push(named);
        continue;
      }
      if (key === "limit") {
        at++;
        const bucket = nftLimitBucket(readLimit());
        steps.push((state) => bucket.allows(state.clockNs, state.packet.bytes.length));
        continue;
      }
      if (key === "quota") {
        at++;
        steps.push(quotaStep());
        continue;
      }
      if ((key === "add" || key === "update") && word(1)?.startsWith("@")) {
        const set = scope.sets.get(word(1)!.slice(1)) ?? fail(`${word(1)}: no such set in this table`);
        at += 2;
        steps.push(setStatement(set, key === "update"));
        continue;
      }
      if (key === "meter") {
        const name = word(1)!;
        at += 2;
        let size = 65535;
        if (word() === "size") {
          size = Number(word(1));
          at += 2;
        }
        let meter = scope.meters.get(name);
        if (!meter) {
          // The meter's key type is its key's (`{ ip6 saddr ... }` makes an ipv6_addr meter): read ahead, then read again below.
          const keyAt = at;
          if (word() === "{") at++;
          const keyTypes = concatenationAhead() ? readConcatenation().types : [keyReader().type];
          at = keyAt;
          meter = new RuntimeNftSet({ name, line: rule.line, type: keyTypes, data: null, flags: new Set(["dynamic"]), timeoutMs: 0, size, elements: [] }, scope.settings.hz, scope.settings.startJiffies);
          scope.meters.set(name, meter);
        }
        steps.push(setStatement(meter, true));
        continue;
      }
      if (key === "dnat" || key === "snat" || key === "masquerade" || key === "redirect") {
        at++;
        // nft refuses a nat statement in a base chain of another type (nft_nat_validate).
        if (scope.chainType !== undefined && scope.chainType !== "nat") fail(`${key} belongs in a type nat chain (nft refuses it in a ${scope.chainType} chain)`);
        const target = natStatement(key);
        steps.push((state) => {
          state.natTarget = target;
          return true;
        });
        // The mapping is the rule's last word: nft_nat_eval's verdict is NF_ACCEPT.
        verdict = { kind: "accept" };
        continue;
      }
      if (key === "notrack") {
        at++;
        steps.push((state) => {
          state.notrack = true;
          return true;
        });
        continue;
      }
      if (key === "numgen") {
        compare("integer", numberGenerator());
        continue;
      }
      if (key === "accept" || key === "drop" || key === "continue" || key === "return") {
        verdict = { kind: key };
        at++;
        continue;
      }
      if (key === "reject") {
        verdict = { kind: "reject" };
        at++;
        // with icmp|icmpx [type] CODE, with tcp reset: all of them drop the packet here.
        if (word() === "with") at += word(2) === "type" ? 4 : 3;
        continue;
      }
      if (key === "jump" || key === "goto") {
        const chain = word(1) ?? fail(`${key} needs a chain`);
        if (!scope.chains.has(chain)) fail(`${key} ${chain}: no such chain in this table`);
        verdict = { kind: key, chain };
        at += 2;
        continue;
      }
      fail(`"${key}" is not modelled by the model engine`);
    }
  } catch (error) {
    if (error instanceof NftValueError) throw new NftConstructError(error.message);
    throw error;
  }
  return { rule, steps, verdict };

  /** `tcp flags ...`: the TCP header's 14th byte as a bitmask (see bitmaskStep). */
  function tcpFlagsStep(): (state: NftPacketState) => boolean {
    return bitmaskStep(TCP_FLAG_BITS, "tcp flags", "a flag (fin, syn, rst, psh, ack, urg, ecn, cwr)", 0xff, (state) => {
      const packet = state.packet;
      if (packet.protocol !== 6 || packet.fragmentOffset !== 0 || packet.bytes.length <= packet.headerLength + 13) return null;
      return packet.bytes[packet.headerLength + 13]!;
    });
  }

  /**
   * A bitmask field (`tcp flags`, `ct status`) as nft compiles it (`nft
   * --debug=netlink`), on a packet that has the field: with no operator
   * (`tcp flags syn,ack`, `ct status dnat`) any of the bits set, `(field &
   * bits) != 0`; `== V` and `!= V` compare the whole field; `V / M` and `&
   * (M) == V` compare it under the mask; `{ V, ... }` is an exact lookup of
   * the whole field (so `ct status { dnat }` never holds: a dnat'ed
   * connection is confirmed too).
   */
  function bitmaskStep(names: Readonly<Record<string, number>>, field: string, what: string, allOnes: number, read: (state: NftPacketState) => number | null): (state: NftPacketState) => boolean {
    const flagsOf = (text: string): number => {
      if (/^(0x[0-9a-f]+|\d+)$/i.test(text)) return (Number(text) & allOnes) >>> 0;
      let bits = 0;
      for (const name of text.replace(/[()]/g, "").split(/[,|]/)) {
        if (name === "") continue;
        const bit = Object.hasOwn(names, name) ? names[name] : undefined;
        if (bit === undefined) fail(`${field}: "${name}" is not ${what}`);
        bits |= bit!;
      }
      return bits >>> 0;
    };
    let mask = allOnes;
    let operator: string | null = null;
    if (word() === "&") {
      at++;
      const masked: string[] = [];
      while (at < tokens.length && !["==", "!=", "eq", "ne"].includes(word()!)) masked.push(tokens[at++]!.text);
      mask = flagsOf(masked.join(""));
      operator = readOperator();
    } else if (["==", "!=", "eq", "ne"].includes(word() ?? "")) operator = readOperator();
    const value = readValue();
    let wanted: (flags: number) => boolean;
    if (value[0]!.text === "{") {
      const exact = new Set(valueItemsOf(value).map(flagsOf));
      wanted = (flags) => exact.has((flags & mask) >>> 0);
    } else {
      const bits = flagsOf(value.map((token) => token.text).join(""));
      if (word() === "/") {
        at++;
        mask = flagsOf(readValue().map((token) => token.text).join(""));
        operator ??= "==";
      }
      if (operator === null) wanted = (flags) => (flags & bits) !== 0;
      else wanted = (flags) => (flags & mask) >>> 0 === bits;
    }
    const negated = operator === "!=";
    return (state) => {
      const flags = read(state);
      return flags !== null && wanted(flags) !== negated;
    };
  }

  /**
   * `tcp option NAME FIELD OP VALUE`, `tcp option NAME exists|missing`
   * (nft_exthdr.c, nft_exthdr_tcp_eval): the options of a TCP header walked
   * from its 21st byte to its data offset, EOL and NOP one byte, others by
   * their length byte; a field compare breaks the rule when the option is
   * absent or too short to hold the field.
   */
  function tcpOptionStep(): void {
    const name = word() ?? fail("tcp option needs an option's name");
    const option = (Object.hasOwn(TCP_OPTIONS, name) ? TCP_OPTIONS[name] : undefined) ?? fail(`tcp option ${name} is not modelled (${Object.keys(TCP_OPTIONS).join(", ")} are)`);
    at++;
    const presence = word();
    if (presence === "exists" || presence === "missing") {
      at++;
      steps.push((state) => (tcpOptionOf(state.packet, option.kind) >= 0) === (presence === "exists"));
      return;
    }
    const fieldName = presence ?? fail(`tcp option ${name} needs a field (${Object.keys(option.fields).join(", ") || "none"}), exists or missing`);
    const field = (Object.hasOwn(option.fields, fieldName) ? option.fields[fieldName] : undefined) ?? fail(`tcp option ${name} ${fieldName} is not a field of it (${Object.keys(option.fields).join(", ") || "it has none"})`);
    at++;
    if (word() === "set") {
      at++;
      if (name !== "maxseg" || fieldName !== "size") fail(`tcp option ${name} ${fieldName} set is not modelled (tcp option maxseg size set is)`);
      steps.push(mssClamp(readMss()));
      return;
    }
    compare("integer", (state) => {
      const found = tcpOptionOf(state.packet, option.kind);
      // The field must lie inside the option's own length.
      if (found < 0 || field.offset + field.length > found % 256) return null;
      return bigEndianAt(state.packet.bytes, Math.floor(found / 256) + field.offset, field.length);
    });
  }

  /**
   * `ct helper set "NAME"` (nft_ct_helper_obj_eval): the table's helper
   * object NAME goes to the packet's connection if it is not yet confirmed,
   * has none, and is of the helper's protocol; it decides nothing. The
   * helper's expectations (RTP for SIP) are not modelled, as for CT --helper.
   */
  function helperAssignment(): (state: NftPacketState) => boolean {
    const name = word() ?? fail("ct helper set needs a helper object's name");
    at++;
    const helper = scope.ctHelpers?.get(name) ?? fail(`ct helper set "${name}": no ct helper ${name} in this table (declare it: ct helper ${name} { type "sip" protocol udp; })`);
    const protocol = helper.protocol === "tcp" ? 6 : 17;
    return (state) => {
      const connection = state.connection;
      if (connection && !connection.confirmed && state.packet.protocol === protocol && !connection.helper) connection.helper = helper.type;
      return true;
    };
  }

  /**
   * `meta time|day|hour OP VALUE` (nft_meta.c): the wall clock when the
   * packet is judged (the run's start, the scenario's `startsAt` or the
   * real time, plus the virtual time), as ns since the epoch, the weekday
   * (Sunday 0), or the seconds since midnight; the host's time zone is UTC,
   * as the lab's is (nft turns local times into UTC when it loads the
   * rule). VALUE is one quoted value, a range `"A"-"B"` (an hour range
   * across midnight holds outside its ends reversed, as nft writes it), or
   * a set `{ "Saturday", "Sunday" }`.
   */
  function wallClockStep(field: "time" | "day" | "hour"): (state: NftPacketState) => boolean {
    const operator = readOperator();
    const parse = (text: string): number => {
      if (field === "day") {
        const day = WEEKDAYS.indexOf(text.toLowerCase());
        if (day >= 0) return day;
        if (/^[0-6]$/.test(text)) return Number(text);
        return fail(`meta day "${text}": expected a day's name (Sunday to Saturday) or 0-6`);
      }
      if (field === "hour") {
        const hour = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text);
        if (!hour || Number(hour[1]) > 23 || Number(hour[2]) > 59 || Number(hour[3] ?? 0) > 59) return fail(`meta hour "${text}": expected HH:MM or HH:MM:SS`);
        return Number(hour[1]) * 3600 + Number(hour[2]) * 60 + Number(hour[3] ?? 0);
      }
      const date = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text);
      if (!date) return fail(`meta time "${text}": expected "YYYY-MM-DD [HH:MM[:SS]]"`);
      return Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]), Number(date[4] ?? 0), Number(date[5] ?? 0), Number(date[6] ?? 0)) * 1e6;
    };
    let test: (value: number) => boolean;
    if (word() === "{") {
      const items = new Set(splitElements(readValue().slice(1, -1), false).map((element) => parse(element[0]!.text)));
      test = (value) => items.has(value);
    } else {
      const low = parse(tokens[at++]?.text ?? fail(`meta ${field} needs a value`));
      let high = low;
      if (word() === "-" || word()?.startsWith("-")) {
        // `"A"-"B"` or `"A" - "B"`: the dash is its own word before the second string.
        at++;
        high = parse(tokens[at++]?.text ?? fail(`meta ${field} "..."-: the range's end is missing`));
      }
      if (operator === "<" || operator === ">" || operator === "<=" || operator === ">=") {
        test = operator === "<" ? (value) => value < low : operator === ">" ? (value) => value > low : operator === "<=" ? (value) => value <= low : (value) => value >= low;
      } else if (high < low) test = (value) => value >= low || value <= high;
      else test = (value) => value >= low && value <= high;
    }
    const negated = operator === "!=";
    const startNs = scope.wallClockStartMs === undefined ? Date.now() * 1e6 : scope.wallClockStartMs * 1e6;
    return (state) => {
      const nowNs = startNs + state.clockNs;
      const seconds = Math.floor(nowNs / 1e9);
      const value = field === "time" ? nowNs : field === "day" ? (4 + Math.floor(seconds / 86400)) % 7 : seconds % 86400;
      return test(value) !== negated;
    };
  }

  /** `N` or `rt mtu` (nft_rt's TCPMSS: the route's MTU less the IPv4 and TCP headers; the lab's MTU is 1500). */
  function readMss(): number {
    if (word() === "rt" && word(1) === "mtu") {
      at += 2;
      return 1500 - 20 - 20;
    }
    const text = word() ?? "";
    at++;
    if (!/^\d+$/.test(text) || Number(text) > 0xffff) fail(`tcp option maxseg size set ${text}: expected a size (0-65535) or rt mtu`);
    return Number(text);
  }

  /**
   * nft_exthdr_tcp_set_eval on the MSS: the first maxseg option of a TCP
   * segment lowered to `size`, never raised ("increase can cause connection
   * to stall"), its checksum fixed; a segment without the option is left as
   * it is, a malformed option or a packet that is no whole TCP header
   * breaks the rule. IPv6 segments are left as they are (the model sends
   * no TCP over IPv6).
   */
  function mssClamp(size: number): (state: NftPacketState) => boolean {
    return (state) => {
      const packet = state.packet;
      if (packet.protocol !== 6 || packet.fragmentOffset !== 0) return false;
      if (packet.family !== 4) return true;
      const found = tcpOptionOf(packet, 2);
      if (found === -1) return packet.bytes.length >= packet.headerLength + 20;
      if (found < 0 || found % 256 < 4) return false;
      const start = Math.floor(found / 256) + 2;
      const old = (packet.bytes[start]! << 8) | packet.bytes[start + 1]!;
      if (old > size) state.packet = rewriteIpv4TcpBytes(packet, start, [size >> 8, size & 0xff]);
      return true;
    };
  }

  /**
   * `meta mark set V` / `ct mark set V`, V a number or `KEY map { K : V, ... }`
   * / `KEY map @MAP` (nft_lookup with a data register: a key in no element
   * breaks the rule, and the mark is not set).
   */
  function readMarkSet(selector: string, field: string): (state: NftPacketState) => number | null {
    at++;
    if (field !== "mark") fail(`${selector} ${field} set is not modelled (${selector} mark set is)`);
    if (/^\d+$|^0x[0-9a-f]+$/i.test(word() ?? "")) {
      const value = Number(readValue()[0]!.text) >>> 0;
      return () => value;
    }
    const key = keyReader();
    if (word() !== "map") fail(`${selector} mark set needs a number or KEY map { ... }`);
    at++;
    const map = readMap([key.type], "value");
    return (state) => {
      const number = key.read(state);
      if (number === null) return null;
      const element = map.lookup(number, state.jiffies);
      return element ? (element.data as number) : null;
    };
  }

  /**
   * `quota [over|until] N UNIT [used M UNIT]` (nft_quota.c): every packet
   * that reaches it adds its length to what is consumed, and is over quota
   * once that reaches N; a plain quota breaks the rule over quota, `over`
   * breaks it under.
   */
  function quotaStep(): (state: NftPacketState) => boolean {
    let over = false;
    if (word() === "over") {
      over = true;
      at++;
    } else if (word() === "until") at++;
    const bytes = readBytes();
    let consumed = 0;
    if (word() === "used") {
      at++;
      consumed = readBytes();
    }
    return (state) => {
      consumed += state.packet.bytes.length;
      return consumed >= bytes === over;
    };
  }

  /** `N bytes|kbytes|mbytes` (nft counts 1024 to a kbyte), or `Nmbytes` written together. */
  function readBytes(): number {
    const together = /^(\d+)(bytes|kbytes|mbytes)$/.exec(word() ?? "");
    const [count, unit] = together ? [together[1]!, together[2]!] : [word() ?? "", word(1) ?? ""];
    at += together ? 1 : 2;
    const scale = Object.hasOwn(BYTE_UNITS, unit) ? BYTE_UNITS[unit] : undefined;
    if (!/^\d+$/.test(count) || scale === undefined) fail(`quota ${count} ${unit}: expected a number of bytes, kbytes or mbytes`);
    return Number(count) * scale!;
  }

  /** `rate [over] N/unit [burst B packets]`: what nft_limit's bucket is made of. */
  function readLimit(): NftLimitSpec {
    if (word() !== "rate") fail("limit needs rate N/unit");
    at++;
    let over = false;
    if (word() === "over") {
      over = true;
      at++;
    } else if (word() === "until") at++;
    const units: Readonly<Record<string, number>> = { second: 1, minute: 60, hour: 3600, day: 86400, week: 604800 };
    // `N/second`, or a byte rate `N kbytes/second` (its unit a word of its own or written together).
    const apart = /^\d+$/.test(word() ?? "") && /^(bytes|kbytes|mbytes)\//.test(word(1) ?? "");
    const written = apart ? `${word()}${word(1)}` : (word() ?? "");
    const parsed = /^(\d+)(bytes|kbytes|mbytes)?\/(second|minute|hour|day|week)$/.exec(written);
    if (!parsed) fail(`limit rate ${written}: expected N/second (or /minute, /hour, /day, /week), or N bytes|kbytes|mbytes/second`);
    at += apart ? 2 : 1;
    const byteUnit = parsed![2];
    const packets = byteUnit === undefined;
    const rate = Number(parsed![1]) * (packets ? 1 : BYTE_UNITS[byteUnit]!);
    const unitSeconds = units[parsed![3]!]!;
    let burst = 0;
    if (word() === "burst") {
      const together = /^(\d+)(bytes|kbytes|mbytes|packets)$/.exec(word(1) ?? "");
      const [count, unit] = together ? [together[1]!, together[2]!] : [word(1) ?? "", /^(bytes|kbytes|mbytes|packets)$/.test(word(2) ?? "") ? word(2)! : "packets"];
      at += together ? 2 : unit === word(2) ? 3 : 2;
      if (!/^\d+$/.test(count)) fail(`limit burst ${count}: expected a number`);
      if ((unit === "packets") !== Boolean(packets)) fail(`limit burst ${count} ${unit}: a ${packets ? "packet rate's burst is in packets" : "byte rate's burst is in bytes, kbytes or mbytes"}`);
      burst = Number(count) * (unit === "packets" ? 1 : BYTE_UNITS[unit]!);
    }
    if (rate === 0) fail("limit rate 0: nft refuses a rate of zero");
    return { rate, unitSeconds, burst, over, bytes: !packets };
  }

  /**
   * `dnat [ip] to ADDRESS[:PORT]`, `snat [ip] to ADDRESS[:PORT]`,
   * `masquerade [to :PORT]`, `redirect [to [:]PORT]`, with `persistent`:
   * one address and one port, as the model maps iptables' NAT targets;
   * ranges, maps and random ports are refused by name (the kernel picks
   * among them by its tuple hash or at random).
   */
  function natStatement(kind: "dnat" | "snat" | "masquerade" | "redirect"): NatTarget {
    const type = kind === "dnat" || kind === "redirect" ? "dst" : "src";
    if ((kind === "dnat" || kind === "snat") && (word() === "ip" || word() === "ip6")) {
      if (word() === "ip6") fail(`${kind} ip6: IPv6 NAT is not modelled; run this ruleset with --engine docker`);
      at++;
    }
    let address: NatTarget["address"] = kind === "masquerade" ? "outgoing-interface" : "incoming-interface";
    let port: number | null = null;
    const portOf = (text: string): number => {
      if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) fail(`${kind} to ${text}: the model maps to one port (1-65535); ranges choose by the kernel's tuple hash; run this ruleset with --engine docker`);
      return Number(text);
    };
    if (word() === "to") {
      const text = word(1) ?? fail(`${kind} to needs ${kind === "dnat" || kind === "snat" ? "an address" : "a port"}`);
      at += 2;
      if (kind === "dnat" || kind === "snat") {
        const endpoint = /^(\d+\.\d+\.\d+\.\d+)(?::(.+))?$/.exec(text);
        if (!endpoint || word() === "map") fail(`${kind} to ${text}${word() === "map" ? " map" : ""}: the model maps to one address and at most one port (ranges and maps choose by the kernel's tuple hash or per packet); run this ruleset with --engine docker`);
        address = parseIpv4(endpoint![1]!);
        if (endpoint![2] !== undefined) port = portOf(endpoint![2]);
      } else port = portOf(text.startsWith(":") ? text.slice(1) : text);
    } else if (kind === "dnat" || kind === "snat") fail(`${kind} needs to ADDRESS`);
    for (;;) {
      const flags = (word() ?? "").split(",");
      if (!flags.every((flag) => flag === "persistent" || flag === "random" || flag === "fully-random")) break;
      if (flags.some((flag) => flag !== "persistent")) fail(`${kind} ${word()}: the kernel picks a random port, which the model does not; run this ruleset with --engine docker`);
      at++;
    }
    return { type, address, port };
  }

  /** `[over] N` after `ct count`: over sets NFT_CONNLIMIT_F_INV. */
  function readConnectionCount(): { limit: number; over: boolean } {
    const over = word() === "over";
    if (over) at++;
    const limit = Number(word());
    if (!/^\d+$/.test(word() ?? "") || limit > 0xffffffff) fail(`ct count ${over ? "over " : ""}${word() ?? ""}: expected a number of connections`);
    at++;
    return { limit, over };
  }

  /**
   * nft_connlimit_do_eval on a list of its own: the packet's connection
   * counted (nf_conncount_add_skb, and the gc its -EEXIST path runs), then
   * `ct count N` holds while the count is at most N, `ct count over N` once
   * it is above.
   */
  function connectionCount({ limit, over }: { limit: number; over: boolean }): NftElementExpression {
    const listed: Listed[] = [];
    return {
      holds: (input) => (countConnection(listed, input.connection, input.ctAssured, input.jiffies) > limit) === over,
      // nft_connlimit_gc: nf_conncount_gc_list, and whether the list is now empty.
      collect: (jiffies) => {
        collectStale(listed, jiffies);
        return listed.length === 0;
      },
    };
  }

  /** `add|update @set { ip saddr [timeout T] [limit rate ...] [ct count ...] }` (and a meter's body): nft_dynset. */
  function setStatement(set: RuntimeNftSet, refresh: boolean): (state: NftPacketState) => boolean {
    if (word() !== "{") fail("a set statement needs { KEY ... }");
    at++;
    const upsertKey = setKeyUpserter(set, refresh);
    let timeoutJiffies = 0;
    if (word() === "timeout") {
      const ms = parseNftDuration(word(1) ?? "");
      if (ms === null) fail(`timeout ${word(1)}: not a duration`);
      timeoutJiffies = msToJiffies(ms!, scope.settings.hz);
      at += 2;
    }
    // Each new element gets its own copy of each expression, a full bucket, an empty list (nft_dynset_new clones them).
    const expressions: Array<() => NftElementExpression> = [];
    for (;;) {
      if (word() === "limit") {
        at++;
        const spec = readLimit();
        expressions.push(() => {
          const bucket = nftLimitBucket(spec);
          return { holds: (input) => bucket.allows(input.clockNs, input.packet.bytes.length) };
        });
      } else if (word() === "ct" && word(1) === "count") {
        at += 2;
        const count = readConnectionCount();
        expressions.push(() => connectionCount(count));
      } else if (word() === "counter") at++;
      else break;
    }
    if (word() === ":") fail("a set statement that adds to a map (KEY : DATA) is not modelled; give the map its elements where it is declared");
    if (word() !== "}") fail(`"${word()}" in a set statement is not modelled (a key, timeout, limit, ct count and counter are)`);
    at++;
    return (state) => {
      // No key (a field the packet lacks) breaks the rule, as a full set does.
      const found = upsertKey(state, timeoutJiffies);
      if (!found) return false;
      if (found.created && expressions.length > 0) {
        for (const make of expressions) found.element.expressions.push(make());
        set.expressionsAdded(found.element);
      }
      // nft_set_elem_update_expr: the first that breaks ends the walk.
      for (const expression of found.element.expressions) if (!expression.holds(state)) return false;
      return true;
    };
  }

  /**
   * nft_fib_ipv4.c and nft_fib_ipv6.c: a route lookup on the source or
   * destination. The lab's routes are simple: every address but the host's
   * own is reachable through the interface the packet came in on (so an
   * rpfilter's `oif missing` holds only for the host's own addresses as
   * sources), and an address's type is local for the host's own and 127/8,
   * multicast for 224/4, broadcast for 255.255.255.255 and 0.0.0.0, unicast
   * otherwise. A local route has no oif: `fib daddr oif` of a packet for the
   * host is missing, as in the kernel.
   */
  function fibStep(): (state: NftPacketState) => boolean {
    at++;
    // FLAG [. FLAG]... RESULT: the flags are joined by dots, so `oif` after one without a dot is the result.
    const flags = [word() ?? ""];
    at++;
    while (word() === ".") {
      flags.push(word(1) ?? "");
      at += 2;
    }
    for (const flag of flags) if (!["saddr", "daddr", "iif", "oif", "mark"].includes(flag)) fail(`fib ${flag}: not a fib flag (saddr, daddr, iif, oif, mark)`);
    const address = flags.includes("saddr") ? "src" : flags.includes("daddr") ? "dst" : fail("fib needs saddr or daddr");
    const result = word();
    at++;
    const local = new Set(scope.localAddresses ?? []);
    if (result === "type") {
      const operator = readOperator();
      const wanted = new Set(valueItems(readValue()));
      for (const type of wanted) if (!FIB_TYPES.has(type)) fail(`fib type ${type}: not a route type (${[...FIB_TYPES].join(", ")})`);
      const negated = operator === "!=";
      return (state) => {
        return wanted.has(routeTypeOf(state.packet[address], local)) !== negated;
      };
    }
    if (result === "oif" || result === "oifname") {
      // The interface the route leaves by: the one the packet came in on, as the lab routes (its default route). A local
      // route (the host's own addresses, 127/8, ::1) gives none: nft_fib4/6 return no result for RTN_LOCAL / RTF_LOCAL.
      // A packet from lo finds lo (nft_fib_is_loopback, at prerouting, where reverse-path rules run).
      const routeOf = (state: NftPacketState): string | null => {
        if (state.inName === "lo") return "lo";
        const type = routeTypeOf(state.packet[address], local);
        if (type === "local") return null;
        // The kernel drops an IPv6 multicast source before any hook (ip6_rcv_core); IPv4's multicast, 0.0.0.0,
        // 255.255.255.255 and IPv6's :: route back by the default route (checked on a veth pair).
        if (address === "src" && type === "multicast" && state.packet.family === 6) return null;
        return state.inName;
      };
      if (word() === "missing" || word() === "exists") {
        const wantMissing = word() === "missing";
        at++;
        return (state) => (routeOf(state) === null) === wantMissing;
      }
      const operator = readOperator();
      const test = compileNameValue(readValue());
      const negated = operator === "!=";
      return (state) => {
        const name = routeOf(state);
        return name !== null && test(name) !== negated;
      };
    }
    return fail(`fib ${flags.join(" . ")} ${result}: not modelled (type, oif and oifname are)`);
  }

  /** `icmp type|code VALUE` or `icmpv6 ...`: nft_payload on the ICMP header, behind the implicit meta l4proto icmp (or ipv6-icmp). */
  function icmpStep(key: "icmp" | "icmpv6"): (state: NftPacketState) => boolean {
    const field = word(1);
    at += 2;
    if (field !== "type" && field !== "code") fail(`${key} ${field} is not modelled (type and code are)`);
    const [names, protocol, what] = key === "icmp" ? [ICMP_TYPES, 1, "ICMP"] : [ICMPV6_TYPE_NUMBERS, 58, "ICMPv6"];
    const operator = readOperator();
    const wanted = new Set(
      valueItems(readValue()).map((item) => {
        const number = field === "type" ? (names[item] ?? Number(item)) : Number(item);
        if (!Number.isInteger(number) || number < 0 || number > 255) fail(`${key} ${field} ${item}: not an ${what} ${field} (a name such as ${key === "icmp" ? "echo-request" : "nd-neighbor-solicit"}, or 0-255)`);
        return number;
      }),
    );
    const negated = operator === "!=";
    return (state) => {
      const packet = state.packet;
      if (packet.protocol !== protocol || packet.fragmentOffset !== 0 || packet.bytes.length < packet.headerLength + 2) return false;
      return wanted.has(packet.bytes[packet.headerLength + (field === "type" ? 0 : 1)]!) !== negated;
    };
  }

  /** `& MASK` (or `and MASK`) after a field (nft_bitwise): a number, or an address for an IPv4 one; null when none follows. */
  function readMask(type: FieldType): number | null {
    if ((word() !== "&" && word() !== "and") || tokens[at]!.quoted) return null;
    const text = word(1) ?? fail("& needs a mask");
    at += 2;
    let mask = Number.NaN;
    try {
      mask = type === "ipv4_addr" && /^\d+\.\d+\.\d+\.\d+$/.test(text) ? parseIpv4(text) : Number(text);
    } catch {
      // Reported below.
    }
    if (!Number.isInteger(mask) || mask < 0 || mask > 0xffffffff) fail(`& ${text}: expected a number${type === "ipv4_addr" ? " or an address (255.255.255.0)" : ""} as the mask`);
    return mask;
  }

  /** `& MASK` after an IPv6 address field (nft_bitwise): the address number with its host bits cleared; none, the address itself. */
  function addressMask(): (address: number) => number {
    if (word() !== "&" && word() !== "and") return (address) => address;
    const text = word(1) ?? "";
    at += 2;
    let prefix: number | null = null;
    try {
      prefix = ipv6MaskPrefix(parseIpv6(text));
    } catch {
      fail(`"${text}" is not an IPv6 mask`);
    }
    if (prefix === null) fail(`& ${text}: the model reads contiguous IPv6 masks (ffff:ffff:ffff:ffff:: for a /64)`);
    return (address) => maskedIpv6Number(address, prefix!);
  }


  /**
   * A set statement's key read from the packet and added to (or found in)
   * the set: one field, or a concatenation whose fields match the set's
   * type field by field; null when the packet lacks a field or the set is full.
   */
  function setKeyUpserter(set: RuntimeNftSet, refresh: boolean): (state: NftPacketState, timeoutJiffies: number) => ReturnType<RuntimeNftSet["upsert"]> {
    const family = (type: FieldType) => (type === "ipv6_addr" ? "an IPv6 address" : type === "ifname" ? "an interface name" : "a number");
    if (concatenationAhead()) {
      const concatenation = readConcatenation();
      if (concatenation.types.length !== set.types.length || concatenation.types.some((type, index) => family(type) !== family(set.types[index]!))) {
        fail(`@${set.name} holds ${set.keyType}, and this key is ${concatenation.types.join(" . ")}`);
      }
      return (state, timeoutJiffies) => {
        const tuple = concatenation.read(state);
        return tuple === null ? null : set.upsertTuple(tuple, state.jiffies, timeoutJiffies, refresh);
      };
    }
    const { type, read } = keyReader();
    if (set.types.length > 1) fail(`@${set.name} holds ${set.keyType}, and this key is one field (${type}); join the fields with " . "`);
    if ((type === "ipv6_addr") !== (set.type === "ipv6_addr")) fail(`@${set.name} holds ${set.type}, and this key is ${type === "ipv6_addr" ? "an IPv6 address" : "not one"}`);
    return (state, timeoutJiffies) => {
      const key = read(state);
      return key === null ? null : set.upsert(key, state.jiffies, timeoutJiffies, refresh);
    };
  }

  /** Whether the expression here is a concatenation (`ip saddr . udp dport`, `iifname . ip saddr`): a dot after its first field. */
  function concatenationAhead(): boolean {
    const dotAt = (offset: number) => tokens[at + offset]?.text === "." && !tokens[at + offset]!.quoted;
    // fib's flags are joined by dots too (`fib saddr . iif oif`): they are one expression.
    if (word() === "fib") return false;
    return ONE_WORD_FIELDS.has(word() ?? "") ? dotAt(1) : dotAt(2);
  }

  /**
   * `FIELD . FIELD ...`: each field read in turn into one key, as nft
   * concatenates registers; a packet lacking any field (udp dport of a TCP
   * segment) has no key, and the expression breaks the rule.
   */
  function readConcatenation(): { types: FieldType[]; read: (state: NftPacketState) => NftTuple | null } {
    const fields = [concatenatedField()];
    while (word() === "." && !tokens[at]!.quoted) {
      at++;
      fields.push(concatenatedField());
    }
    const types = fields.map((field) => field.type);
    return {
      types,
      read: (state) => {
        const tuple: Array<number | string> = [];
        for (const field of fields) {
          const value = field.read(state);
          if (value === null) return null;
          tuple.push(value);
        }
        return tuple;
      },
    };
  }

  /** One field of a concatenation: what a set key may be, or an interface name. */
  function concatenatedField(): { type: FieldType; read: (state: NftPacketState) => number | string | null } {
    const name = word() === "meta" ? word(1) : word();
    if (name === "iifname" || name === "oifname" || name === "iif" || name === "oif") {
      at += word() === "meta" ? 2 : 1;
      return { type: "ifname", read: name.startsWith("i") ? (state) => state.inName : (state) => state.outName };
    }
    // `l4proto` and `mark` without `meta`, as nft lists them.
    if (word() === "l4proto" || word() === "mark") return keyReaderOf("meta", word(), 1);
    return keyReader();
  }

  /**
   * A concatenation compared: `== / != { A . B, ... }` (an anonymous set,
   * intervals allowed per field), `@SET` (a set whose type is the same
   * concatenation), or `vmap`.
   */
  function concatenationMatch(concatenation: ReturnType<typeof readConcatenation>): void {
    const keyType = concatenation.types.join(" . ");
    let set: RuntimeNftSet;
    let negated = false;
    if (word() === "vmap") {
      at++;
      set = readMap(concatenation.types, "verdict");
      steps.push((state) => {
        const tuple = concatenation.read(state);
        const element = tuple === null ? null : set.lookupTuple(tuple, state.jiffies);
        if (!element) return false;
        state.mapVerdict = element.data as NftVerdict;
        return true;
      });
      return;
    }
    const operator = readOperator();
    if (operator !== "==" && operator !== "!=") fail(`${keyType} ${operator}: a concatenation is compared with == or != (or looked up in a set)`);
    negated = operator === "!=";
    if (word()?.startsWith("@") && !tokens[at]!.quoted) {
      const name = word()!.slice(1);
      at++;
      set = scope.sets.get(name) ?? fail(`@${name}: no such set in this table`);
      if (set.keyType !== keyType) fail(`@${name} holds ${set.keyType}, and the concatenation is ${keyType}`);
    } else {
      // nft refuses one element written out (`ip saddr . udp dport 192.0.2.1 . 5060`), as here.
      if (word() !== "{") fail(`${keyType} ${word() ?? ""}: use concatenations with sets and maps, not singleton values (write { A . B })`);
      const elements = splitElements(readValue().slice(1, -1), false);
      if (elements.length === 0) fail(`${keyType} { }: the set has no elements`);
      set = new RuntimeNftSet({ name: "{ ... }", line: rule.line, type: concatenation.types, data: null, flags: new Set(["interval"]), timeoutMs: 0, size: 0, elements }, scope.settings.hz, scope.settings.startJiffies);
    }
    steps.push((state) => {
      const tuple = concatenation.read(state);
      return tuple !== null && (set.lookupTuple(tuple, state.jiffies) !== null) !== negated;
    });
  }

  /** The key of a set statement or a map lookup: one packet field, with its type. */
  function keyReader(): { type: FieldType; read: (state: NftPacketState) => number | null } {
    const [selector, field] = [word(), word(1)];
    return keyReaderOf(selector, field);
  }

  /** `words`: 2 for `SELECTOR FIELD`, 1 for a field written alone (`l4proto`). */
  function keyReaderOf(selector: string | undefined, field: string | undefined, words = 2): { type: FieldType; read: (state: NftPacketState) => number | null } {
    at += words;
    if (selector === "ip6" && (field === "saddr" || field === "daddr")) {
      const masked = addressMask();
      // No IPv4 packet has an IPv6 address: the statement stops the rule there (its meta nfproto ipv6).
      return { type: "ipv6_addr", read: (state) => (state.packet.family === 6 ? masked(field === "saddr" ? state.packet.src : state.packet.dst) : null) };
    }
    if (selector === "ip" && (field === "saddr" || field === "daddr")) {
      // `ip saddr & 255.255.255.0`: sources counted per /24 (nft_bitwise before the key is taken).
      const mask = readMask("ipv4_addr") ?? 0xffffffff;
      const source = field === "saddr";
      return { type: "ipv4_addr", read: (state) => (state.packet.family === 4 ? ((source ? state.packet.src : state.packet.dst) & mask) >>> 0 : null) };
    }
    if ((selector === "ip" && field === "protocol") || (selector === "meta" && field === "l4proto")) return { type: "inet_proto", read: (state) => state.packet.protocol };
    if (selector === "meta" && field === "mark") return { type: "mark", read: (state) => state.mark };
    if (selector === "ct" && field === "mark") return { type: "mark", read: (state) => (state.connection ? state.connection.mark : null) };
    if ((selector === "udp" || selector === "tcp" || selector === "th") && (field === "sport" || field === "dport")) {
      const protocols = selector === "th" ? TRANSPORT : new Set([selector === "udp" ? 17 : 6]);
      return { type: "inet_service", read: (state) => (transport(state.packet, protocols) ? (field === "sport" ? state.packet.sport : state.packet.dport) : null) };
    }
    return fail(`key ${selector} ${field} is not modelled (ip saddr, ip daddr, ip protocol, ports, meta mark and ct mark are)`);
  }
}

/**
 * `@th,OFFSET,LENGTH VALUE`: LENGTH bits from OFFSET bits into the transport
 * header (th), the network header (nh) or the transport payload (ih, after
 * TCP's options too), as nft_payload reads them; `& MASK` before the
 * operator ANDs them first (nft_bitwise), as `@th,64,8 & 0x80 == 0x80`.
 */
function rawPayloadStep(
  base: "th" | "nh" | "ih",
  offsetBits: number,
  lengthBits: number,
  operator: string,
  value: readonly NftToken[],
  fail: (message: string) => never,
  bitmask: string | null = null,
): (state: NftPacketState) => boolean {
  if (lengthBits < 1 || lengthBits > 128) fail(`@${base},${offsetBits},${lengthBits}: a raw payload is 1 to 128 bits`);
  if (value.length !== 1 || value[0]!.quoted) fail(`@${base},${offsetBits},${lengthBits} needs a number (0x... for bytes; nft takes no string here)`);
  const text = value[0]!.text;
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text)) fail(`@${base},${offsetBits},${lengthBits} ${text}: expected a number such as 0x5245474953544552`);
  if (operator !== "==" && operator !== "!=") fail(`@${base},${offsetBits},${lengthBits}: only == and != are modelled`);
  const wanted = BigInt(text);
  const negated = operator === "!=";
  const firstByte = Math.floor(offsetBits / 8);
  const lastByte = Math.floor((offsetBits + lengthBits - 1) / 8);
  const shift = BigInt((lastByte + 1) * 8 - (offsetBits + lengthBits));
  if (bitmask !== null && !/^(0x[0-9a-f]+|\d+)$/i.test(bitmask)) fail(`@${base},${offsetBits},${lengthBits} & ${bitmask}: expected a mask such as 0x80`);
  const mask = ((1n << BigInt(lengthBits)) - 1n) & (bitmask === null ? -1n : BigInt(bitmask));
  return (state) => {
    const packet = state.packet;
    if (base !== "nh" && packet.fragmentOffset !== 0) return false;
    const start = base === "th" ? packet.headerLength : base === "ih" ? packet.payloadOffset : 0;
    if (start + lastByte >= packet.bytes.length) return false;
    let read = 0n;
    for (let index = firstByte; index <= lastByte; index++) read = (read << 8n) | BigInt(packet.bytes[start + index]!);
    return (((read >> shift) & mask) === wanted) !== negated;
  };
}

/** nft's `rt` fields of the IPv6 routing header (exthdr), by their byte in it; `rt nexthop|mtu|classid|ipsec` are nft_rt's route, not modelled. */
const RT_EXTHDR_FIELDS: ReadonlyMap<string, number> = new Map([
  ["nexthdr", 0],
  ["hdrlength", 1],
  ["type", 2],
  ["seg-left", 3],
]);
