import type { Packet } from "../../../../net/packet.js";
import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";

/** XT_U32_MAXSIZE (xt_u32.h): at most this many tests, locations per test and values per test. */
const MAX_SIZE = 10;

const enum Op {
  And,
  LeftShift,
  RightShift,
  At,
}

interface U32Test {
  readonly start: number;
  readonly ops: Uint8Array;
  readonly numbers: Float64Array;
  readonly mins: Float64Array;
  readonly maxs: Float64Array;
}

/**
 * `-m u32` (xt_u32.c u32_match_it): each test reads a big-endian 32-bit word,
 * applies &, <<, >> and @ (move the base by the value, then read at base+n),
 * and passes if the result falls in one of its ranges. A read past the end of
 * the packet fails the whole match, as the kernel does.
 */
export const u32Match: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("u32", rawOptions, where);
  const option = options.get("u32");
  if (!option) throw options.error("--u32 is required");
  const tests = parseU32(option.args[0]!, options);
  const invert = option.negated;
  return (packet) => runTests(tests, packet) !== invert;
};

function read32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function runTests(tests: readonly U32Test[], packet: Packet): boolean {
  const bytes = packet.bytes;
  const length = bytes.length;
  for (const test of tests) {
    let at = 0;
    let position = test.start;
    if (length < 4 || position > length - 4) return false;
    let value = read32(bytes, position);
    for (let i = 0; i < test.ops.length; i++) {
      const number = test.numbers[i]!;
      switch (test.ops[i] as Op) {
        case Op.And:
          value = (value & number) >>> 0;
          break;
        case Op.LeftShift:
          value = (value << (number & 31)) >>> 0;
          break;
        case Op.RightShift:
          value = value >>> (number & 31);
          break;
        case Op.At:
          if (at + value > 0xffffffff) return false;
          at += value;
          position = number;
          if (at + 4 > 0xffffffff || length < at + 4 || position > length - at - 4) return false;
          value = read32(bytes, at + position);
          break;
      }
    }
    let inRange = false;
    for (let v = 0; v < test.mins.length; v++) {
      if (test.mins[v]! <= value && value <= test.maxs[v]!) {
        inRange = true;
        break;
      }
    }
    if (!inRange) return false;
  }
  return true;
}

/** The grammar of libxt_u32.c: tests joined by &&, "location=value[:value],...", numbers in C notation. */
function parseU32(text: string, options: MatchOptions): U32Test[] {
  const source = text.replace(/\s+/g, "");
  const tests: U32Test[] = [];
  for (const testText of source.split("&&")) {
    const equals = testText.indexOf("=");
    if (equals < 0) throw options.error(`--u32 "${text}": test "${testText}" has no "="`);
    const locationText = testText.slice(0, equals);
    const valuesText = testText.slice(equals + 1);
    const tokens = locationText.split(/(&|<<|>>|@)/).filter((token) => token !== "");
    const start = parseNumber(tokens[0], text, options);
    const ops: Op[] = [];
    const numbers: number[] = [];
    for (let i = 1; i < tokens.length; i += 2) {
      const op = tokens[i];
      const number = parseNumber(tokens[i + 1], text, options);
      ops.push(op === "&" ? Op.And : op === "<<" ? Op.LeftShift : op === ">>" ? Op.RightShift : op === "@" ? Op.At : failOp(op, text, options));
      numbers.push(number);
    }
    if (ops.length + 1 > MAX_SIZE) throw options.error(`--u32 "${text}": more than ${MAX_SIZE} locations in one test`);
    const ranges = valuesText.split(",").map((range) => {
      const [low, high] = range.split(":");
      const min = parseNumber(low, text, options);
      const max = high === undefined ? min : parseNumber(high, text, options);
      return { min, max };
    });
    if (ranges.length > MAX_SIZE) throw options.error(`--u32 "${text}": more than ${MAX_SIZE} values in one test`);
    tests.push({
      start,
      ops: Uint8Array.from(ops),
      numbers: Float64Array.from(numbers),
      mins: Float64Array.from(ranges, (range) => range.min),
      maxs: Float64Array.from(ranges, (range) => range.max),
    });
  }
  if (tests.length > MAX_SIZE) throw options.error(`--u32 "${text}": more than ${MAX_SIZE} tests`);
  return tests;
}

function failOp(op: string | undefined, text: string, options: MatchOptions): never {
  throw options.error(`--u32 "${text}": unexpected "${op ?? ""}"`);
}

/** strtoul(..., 0): decimal, 0x hex or leading-0 octal. */
function parseNumber(token: string | undefined, text: string, options: MatchOptions): number {
  const value =
    token === undefined
      ? Number.NaN
      : /^0x[0-9a-f]+$/i.test(token)
        ? Number.parseInt(token.slice(2), 16)
        : /^0[0-7]+$/.test(token)
          ? Number.parseInt(token.slice(1), 8)
          : /^\d+$/.test(token)
            ? Number(token)
            : Number.NaN;
  if (!Number.isFinite(value) || value > 0xffffffff) throw options.error(`--u32 "${text}": "${token ?? ""}" is not a 32-bit number`);
  return value;
}
