import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";

/**
 * Matches on marks and helpers that other tables' targets set: MARK and
 * CONNMARK set the packet's and its connection's marks as it goes through
 * raw and mangle (see ../targets.ts), CT --helper names a helper. Helpers'
 * expectations (the RELATED connections -m helper matches) are not modelled.
 */

function parseMark(options: MatchOptions): { value: number; mask: number; negated: boolean } {
  const option = options.get("mark");
  if (!option) throw options.error("--mark is required");
  const match = /^(0x[0-9a-f]+|\d+)(?:\/(0x[0-9a-f]+|\d+))?$/i.exec(option.args[0]!);
  if (!match) throw options.error(`--mark ${option.args[0]}: expected VALUE[/MASK]`);
  const value = Number(match[1]);
  const mask = match[2] === undefined ? 0xffffffff : Number(match[2]);
  if (value > 0xffffffff || mask > 0xffffffff) throw options.error(`--mark ${option.args[0]}: marks are 32-bit`);
  return { value, mask, negated: option.negated };
}

/** xt_mark.c mark_mt: ((skb->mark & mask) == mark) ^ invert. */
export const markMatch: MatchFactory = (rawOptions, _state, where) => {
  const { value, mask, negated } = parseMark(new MatchOptions("mark", rawOptions, where));
  return (_packet, context) => (((context.skb?.mark ?? 0) & mask) >>> 0 === value) !== negated;
};

/** xt_connmark.c connmark_mt: no conntrack entry never matches, negated or not. */
export const connmarkMatch: MatchFactory = (rawOptions, _state, where) => {
  const { value, mask, negated } = parseMark(new MatchOptions("connmark", rawOptions, where));
  return (_packet, context) => {
    const connection = context.connection;
    if (connection === null || context.ctState === "UNTRACKED" || context.ctState === "INVALID") return false;
    return (((connection?.mark ?? 0) & mask) >>> 0 === value) !== negated;
  };
};

/** xt_helper.c: only a connection a helper expected (ct->master set) can match; none is, so the answer is --helper's negation. */
export const helperMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("helper", rawOptions, where);
  const option = options.get("helper");
  if (!option) throw options.error("--helper is required");
  const matches = option.negated;
  return () => matches;
};
