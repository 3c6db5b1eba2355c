import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";

/** XT_STRING_MAX_PATTERN_SIZE (xt_string.h). */
const MAX_PATTERN = 128;

/**
 * `-m string` (xt_string.c): skb_find_text searches the packet from --from
 * (offset from the IP header, as skb->data points there at the IP hooks) and
 * accepts an occurrence only if it ends by --to (ret + patlen <= to - from).
 * bm and kmp differ only on non-linear skbs; model packets are linear, so both
 * find the same first occurrence. --icase compares through the kernel's
 * toupper() for both algorithms (ts_bm.c, ts_kmp.c honour TS_IGNORECASE).
 */
export const stringMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("string", rawOptions, where);
  const algo = options.value("algo");
  if (algo === undefined) throw options.error(`--algo is required (bm or kmp), as iptables requires it`);
  if (algo !== "bm" && algo !== "kmp") throw options.error(`--algo ${algo}: the kernel's string match knows bm and kmp`);
  const patternOption = options.get("string") ?? options.get("hex-string");
  if (!patternOption) throw options.error(`--string or --hex-string is required`);
  const pattern = options.has("hex-string") ? parseHexString(patternOption.args[0]!, options) : new TextEncoder().encode(patternOption.args[0]!);
  if (pattern.length === 0 || pattern.length > MAX_PATTERN) throw options.error(`pattern must be 1 to ${MAX_PATTERN} bytes, got ${pattern.length}`);
  const from = options.integer("from", 0, 0, 65535);
  const to = options.integer("to", 65535, 0, 65535);
  if (from > to) throw options.error(`--from ${from} is beyond --to ${to}`);
  const icase = options.has("icase");
  const invert = patternOption.negated;
  const needle = icase ? pattern.map(kernelToUpper) : pattern;
  const first = needle[0]!;
  const length = needle.length;
  return (packet) => {
    const bytes = packet.bytes;
    // Positions whose occurrence would end by --to and inside the packet.
    const last = Math.min(to, bytes.length) - length;
    let found = false;
    outer: for (let position = from; position <= last; position++) {
      const head = icase ? kernelToUpper(bytes[position]!) : bytes[position]!;
      if (head !== first) continue;
      for (let k = 1; k < length; k++) {
        const byte = icase ? kernelToUpper(bytes[position + k]!) : bytes[position + k]!;
        if (byte !== needle[k]) continue outer;
      }
      found = true;
      break;
    }
    return found !== invert;
  };
};

/** lib/ctype.c: lower case is a-z and Latin-1 0xdf-0xff except 0xf7; toupper subtracts 0x20. */
function kernelToUpper(byte: number): number {
  return (byte >= 0x61 && byte <= 0x7a) || (byte >= 0xdf && byte !== 0xf7) ? byte - 0x20 : byte;
}

/** libxt_string's parse_hex_string: text with |hex bytes| sections, e.g. "|52 45|GISTER". */
function parseHexString(text: string, options: MatchOptions): Uint8Array {
  const bytes: number[] = [];
  let hex = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === "|") {
      hex = !hex;
      continue;
    }
    if (!hex) {
      if (char === "\\" && i + 1 < text.length) i++;
      bytes.push(text.charCodeAt(i) & 0xff);
      continue;
    }
    if (char === " ") continue;
    const pair = text.slice(i, i + 2);
    if (!/^[0-9a-fA-F]{2}$/.test(pair)) throw options.error(`--hex-string "${text}": "${pair}" is not a hex byte`);
    bytes.push(Number.parseInt(pair, 16));
    i++;
  }
  if (hex) throw options.error(`--hex-string "${text}": unterminated |`);
  return Uint8Array.from(bytes);
}
