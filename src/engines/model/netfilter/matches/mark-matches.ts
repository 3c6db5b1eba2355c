import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";

/**
 * Matches on marks and helpers that only other tables' targets set (MARK,
 * CONNMARK, CT --helper). The model runs the filter table alone and refuses
 * rules in the others, so every packet's mark and its connection's mark are 0
 * and no connection was opened by a helper's expectation: the matches are
 * modelled exactly for that state, not guessed at.
 */

function markTest(module: "mark" | "connmark"): MatchFactory {
  return (rawOptions, _state, where) => {
    const options = new MatchOptions(module, rawOptions, where);
    const option = options.get("mark");
    if (!option) throw options.error("--mark is required");
    const match = /^(0x[0-9a-f]+|\d+)(?:\/(0x[0-9a-f]+|\d+))?$/i.exec(option.args[0]!);
    if (!match) throw options.error(`--mark ${option.args[0]}: expected VALUE[/MASK]`);
    const value = Number(match[1]);
    const mask = match[2] === undefined ? 0xffffffff : Number(match[2]);
    if (value > 0xffffffff || mask > 0xffffffff) throw options.error(`--mark ${option.args[0]}: marks are 32-bit`);
    // xt_mark.c / xt_connmark.c: ((mark & mask) == value) ^ invert, with mark 0 here.
    const matches = ((0 & mask) >>> 0 === value) !== option.negated;
    return () => matches;
  };
}

export const markMatch = markTest("mark");
export const connmarkMatch = markTest("connmark");

/** xt_helper.c: only a connection a helper expected (ct->master set) can match; none is, so the answer is --helper's negation. */
export const helperMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("helper", rawOptions, where);
  const option = options.get("helper");
  if (!option) throw options.error("--helper is required");
  const matches = option.negated;
  return () => matches;
};
