import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";
import { parseRate } from "./rate.js";

/** XT_LIMIT_SCALE (xt_limit.h). */
const XT_LIMIT_SCALE = 10000;

/**
 * `-m limit` (net/netfilter/xt_limit.c): a token bucket per rule, credits in
 * the kernel's 32-bit units (CREDITS_PER_JIFFY = POW2_BELOW32(0xFFFFFFFF /
 * (HZ*86400))), refilled by elapsed jiffies and capped at the burst.
 */
export const limitMatch: MatchFactory = (rawOptions, state, where) => {
  const options = new MatchOptions("limit", rawOptions, where);
  const hz = state.settings.hz;
  const creditsPerJiffy = pow2Below32(Math.floor(0xffffffff / (hz * 86400)));
  const user2credits = (user: number): number =>
    user > Math.floor(0xffffffff / (hz * creditsPerJiffy))
      ? Math.floor(user / XT_LIMIT_SCALE) * hz * creditsPerJiffy
      : Math.floor((user * hz * creditsPerJiffy) / XT_LIMIT_SCALE);
  const average = parseRate(options.value("limit") ?? "3/hour", XT_LIMIT_SCALE, options, "limit");
  const burst = options.integer("limit-burst", 5, 1, 10000);
  if (user2credits(average * burst) < user2credits(average)) throw options.error(`rate and burst overflow the kernel's credits ("Overflow, try lower")`);
  const cost = user2credits(average);
  const cap = user2credits(average * burst);
  let credit = cap;
  let previous = state.settings.startJiffies;
  const invert = options.get("limit")?.negated ?? false;
  return (_packet, context) => {
    const now = context.jiffies;
    credit = Math.min(credit + (now - previous) * creditsPerJiffy, cap);
    previous = now;
    if (credit >= cost) {
      credit -= cost;
      return !invert;
    }
    return invert;
  };
};

/** POW2_BELOW32: the largest power of two not above x. */
export function pow2Below32(x: number): number {
  let power = 1;
  while (power * 2 <= x) power *= 2;
  return power;
}
