import { rewriteIpv4HeaderByte } from "../../../net/ipv4.js";
import { rewriteIpv4TcpBytes } from "../../../net/tcp-segment.js";
import type { Packet } from "../../../net/packet.js";
import { RulesetError, type RuleOption, type TargetSpec } from "../../../firewall/ruleset.js";
import type { PacketContext } from "./match.js";

/**
 * A target that changes the packet or its connection and lets it go on to the
 * next rule (XT_CONTINUE). It returns the packet as later rules and hooks see
 * it when it rewrote bytes, else nothing.
 */
export type TargetEffect = (packet: Packet, context: PacketContext) => Packet | void;

const MARK_PATTERN = /^(0x[0-9a-f]+|\d+)(?:\/(0x[0-9a-f]+|\d+))?$/i;

/** Helpers nf_conntrack has for IPv4 (nf_conntrack_*.c), by the names CT --helper takes. */
export const KNOWN_HELPERS: ReadonlySet<string> = new Set(["sip", "ftp", "tftp", "h323", "RAS", "Q.931", "irc", "pptp", "sane", "amanda", "snmp", "snmp_trap", "netbios-ns"]);

/** DSCP class names libxt_dscp knows, with their code points. */
export const DSCP_CLASSES: Readonly<Record<string, number>> = {
  CS0: 0, CS1: 8, CS2: 16, CS3: 24, CS4: 32, CS5: 40, CS6: 48, CS7: 56, BE: 0,
  AF11: 10, AF12: 12, AF13: 14, AF21: 18, AF22: 20, AF23: 22, AF31: 26, AF32: 28, AF33: 30, AF41: 34, AF42: 36, AF43: 38, EF: 46,
};

class TargetOptions {
  constructor(
    readonly target: TargetSpec,
    readonly where: { line: number },
  ) {}

  get(name: string): RuleOption | undefined {
    return this.target.options.find((option) => option.name === name);
  }

  error(message: string, code = "RULESET_BAD_OPTION"): RulesetError {
    return new RulesetError(code, `-j ${this.target.kind}: ${message}`, this.where.line);
  }

  /** VALUE[/MASK] as MARK and CONNMARK take it; a missing mask is all ones. */
  mark(name: string): { value: number; mask: number } {
    const text = this.get(name)!.args[0]!;
    const match = MARK_PATTERN.exec(text);
    const value = match ? Number(match[1]) : Number.NaN;
    const mask = match?.[2] === undefined ? 0xffffffff : Number(match[2]);
    if (!match || value > 0xffffffff || mask > 0xffffffff) throw this.error(`--${name} ${text}: expected a 32-bit VALUE[/MASK]`);
    return { value, mask };
  }

  integer(name: string, min: number, max: number): number {
    const text = this.get(name)!.args[0]!;
    const value = /^(0x[0-9a-f]+|\d+)$/i.test(text) ? Number(text) : Number.NaN;
    if (!Number.isInteger(value) || value < min || value > max) throw this.error(`--${name} ${text}: expected an integer from ${min} to ${max}`);
    return value;
  }
}

/**
 * The xmark form every MARK and CONNMARK option becomes (libxt_MARK.c,
 * libxt_CONNMARK.c): new = (old & ~mask) ^ value. --set-mark V/M zeroes M and
 * sets V, so its mask is M | V.
 */
function xmarkOf(options: TargetOptions): { value: number; mask: number } | null {
  if (options.get("set-xmark")) return options.mark("set-xmark");
  if (options.get("set-mark")) {
    const { value, mask } = options.mark("set-mark");
    return { value, mask: (mask | value) >>> 0 };
  }
  if (options.get("and-mark")) return { value: 0, mask: ~options.mark("and-mark").value >>> 0 };
  if (options.get("or-mark")) {
    const bits = options.mark("or-mark").value;
    return { value: bits, mask: bits };
  }
  if (options.get("xor-mark")) return { value: options.mark("xor-mark").value, mask: 0 };
  return null;
}

/** xt_MARK.c mark_tg: skb->mark = (skb->mark & ~mask) ^ mark. */
function markTarget(options: TargetOptions): TargetEffect {
  const xmark = xmarkOf(options);
  if (!xmark) throw options.error("needs --set-xmark, --set-mark, --and-mark, --or-mark or --xor-mark");
  const keep = ~xmark.mask >>> 0;
  return (_packet, context) => {
    if (context.skb) context.skb.mark = ((context.skb.mark & keep) ^ xmark.value) >>> 0;
  };
}

/** xt_connmark.c connmark_tg_shift: a packet without a conntrack entry is left alone. */
function connmarkTarget(options: TargetOptions): TargetEffect {
  const maskOption = options.get("mask") ? options.mark("mask").value : 0xffffffff;
  const nfmask = options.get("nfmask") ? options.mark("nfmask").value : maskOption;
  const ctmask = options.get("ctmask") ? options.mark("ctmask").value : maskOption;
  if (options.get("save-mark")) {
    return (_packet, context) => {
      const connection = context.connection;
      if (!connection || !context.skb) return;
      connection.mark = ((connection.mark & ~ctmask) ^ (context.skb.mark & nfmask)) >>> 0;
    };
  }
  if (options.get("restore-mark")) {
    return (_packet, context) => {
      const connection = context.connection;
      if (!connection || !context.skb) return;
      context.skb.mark = ((context.skb.mark & ~nfmask) ^ (connection.mark & ctmask)) >>> 0;
    };
  }
  const xmark = xmarkOf(options);
  if (!xmark) throw options.error("needs --set-xmark, --set-mark, --save-mark or --restore-mark");
  const keep = ~xmark.mask >>> 0;
  return (_packet, context) => {
    const connection = context.connection;
    if (connection) connection.mark = ((connection.mark & keep) ^ xmark.value) >>> 0;
  };
}

/** xt_CT.c: --notrack makes the packet untracked; --helper is the helper its new connection gets. */
function ctTarget(options: TargetOptions, notrack: boolean): TargetEffect {
  for (const name of ["zone", "zone-orig", "zone-reply", "timeout"]) {
    if (options.get(name)) throw options.error(`--${name} is not modelled (the model keeps one conntrack zone with the default timeouts); run this ruleset with --engine docker`, "RULESET_UNSUPPORTED");
  }
  const helper = options.get("helper")?.args[0];
  if (helper !== undefined && !KNOWN_HELPERS.has(helper)) throw options.error(`--helper ${helper}: no such conntrack helper; the kernel has ${[...KNOWN_HELPERS].join(", ")}`, "RULESET_REJECTED");
  if (notrack || options.get("notrack")) {
    return (_packet, context) => {
      if (context.skb) context.skb.notrack = true;
    };
  }
  return (_packet, context) => {
    if (context.skb && helper !== undefined) context.skb.helper = helper;
  };
}

/** xt_DSCP.c dscp_tg: the TOS byte keeps its two ECN bits and takes the code point in the other six. */
function dscpTarget(options: TargetOptions): TargetEffect {
  let dscp: number;
  if (options.get("set-dscp-class")) {
    const name = options.get("set-dscp-class")!.args[0]!.toUpperCase();
    if (DSCP_CLASSES[name] === undefined) throw options.error(`--set-dscp-class ${name}: unknown class; use one of ${Object.keys(DSCP_CLASSES).join(", ")}`);
    dscp = DSCP_CLASSES[name]!;
  } else if (options.get("set-dscp")) {
    dscp = options.integer("set-dscp", 0, 63);
  } else {
    throw options.error("needs --set-dscp or --set-dscp-class");
  }
  return (packet) => rewriteIpv4HeaderByte(packet, 1, (packet.bytes[1]! & 0x03) | (dscp << 2));
}

/** xt_HL.c ttl_tg: set, or decrement/increment clamped to 0..255. */
function ttlTarget(options: TargetOptions): TargetEffect {
  if (options.get("ttl-set")) {
    const ttl = options.integer("ttl-set", 0, 255);
    return (packet) => rewriteIpv4HeaderByte(packet, 8, ttl);
  }
  if (options.get("ttl-dec")) {
    const by = options.integer("ttl-dec", 1, 255);
    return (packet) => rewriteIpv4HeaderByte(packet, 8, Math.max(0, packet.ttl - by));
  }
  if (options.get("ttl-inc")) {
    const by = options.integer("ttl-inc", 1, 255);
    return (packet) => rewriteIpv4HeaderByte(packet, 8, Math.min(255, packet.ttl + by));
  }
  throw options.error("needs --ttl-set, --ttl-dec or --ttl-inc");
}

/**
 * xt_TCPMSS.c tcpmss_mangle_packet on a SYN: lowers the MSS option to the
 * limit (--set-mss, or the path MTU less 40 with --clamp-mss-to-pmtu; the
 * lab's MTU is 1500). A SYN without the option is left as it is: the kernel
 * would add one, which changes nothing a rule of the model reads.
 */
function tcpmssTarget(options: TargetOptions): TargetEffect {
  const limit = options.get("set-mss") ? options.integer("set-mss", 0, 65535) : options.get("clamp-mss-to-pmtu") ? 1460 : Number.NaN;
  if (Number.isNaN(limit)) throw options.error("needs --set-mss or --clamp-mss-to-pmtu");
  return (packet) => {
    const tcp = packet.headerLength;
    const bytes = packet.bytes;
    if (packet.protocol !== 6 || packet.fragmentOffset !== 0 || bytes.length < tcp + 20 || (bytes[tcp + 13]! & 0x02) === 0) return;
    const dataOffset = (bytes[tcp + 12]! >> 4) * 4;
    for (let at = tcp + 20; at < tcp + dataOffset && at < bytes.length; ) {
      const kind = bytes[at]!;
      if (kind === 0) return;
      if (kind === 1) {
        at++;
        continue;
      }
      const length = bytes[at + 1] ?? 0;
      if (length < 2) return;
      if (kind === 2 && length === 4) {
        const mss = (bytes[at + 2]! << 8) | bytes[at + 3]!;
        if (mss <= limit) return;
        return rewriteIpv4TcpBytes(packet, at + 2, [limit >> 8, limit & 0xff]);
      }
      at += length;
    }
  };
}

/** The effect of a non-terminal raw or mangle target, or null for targets that are not of this kind. */
export function compileTargetEffect(target: TargetSpec, where: { line: number }): TargetEffect | null {
  const options = new TargetOptions(target, where);
  switch (target.kind) {
    case "MARK":
      return markTarget(options);
    case "CONNMARK":
      return connmarkTarget(options);
    case "CT":
      return ctTarget(options, false);
    case "NOTRACK":
      return ctTarget(options, true);
    case "DSCP":
      return dscpTarget(options);
    case "TTL":
      return ttlTarget(options);
    case "TCPMSS":
      return tcpmssTarget(options);
    default:
      return null;
  }
}
