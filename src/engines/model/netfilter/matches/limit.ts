import type { MatchFactory, MatchState, PacketContext } from "../match.js";
import { MatchOptions } from "./match-options.js";
import { parseRate } from "./rate.js";

/** A rule's bucket as a comparison shows it; kept in MatchState.tables under "limit:LINE". */
export interface LimitBucket {
  /** The bucket refilled to the packet's time, before the packet takes from it. */
  describe(context: PacketContext): string;
}

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
  // libxt_limit takes --limit-burst 0 for its default of 5 (iptables-save then prints no burst).
  const burst = options.integer("limit-burst", 5, 0, 10000) || 5;
  if (user2credits(average * burst) < user2credits(average)) throw options.error(`rate and burst overflow the kernel's credits ("Overflow, try lower")`);
  const invert = options.get("limit")?.negated ?? false;
  if (state.settings.iptablesNft) return nftLimit(average, burst, invert, state, where.line);
  const cost = user2credits(average);
  const cap = user2credits(average * burst);
  let credit = cap;
  let previous = state.settings.startJiffies;
  const bucket: LimitBucket = {
    describe: (context) => {
      const refilled = Math.min(credit + (context.jiffies - previous) * creditsPerJiffy, cap);
      return `limit (line ${where.line}): ${(refilled / cost).toFixed(2)} of ${burst} packets' credit`;
    },
  };
  state.tables.set(`limit:${where.line}`, bucket);
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

/** The per-unit multipliers of iptables-nft's add_nft_limit (iptables/nft.c): day, hour, minute, second. */
const NFT_LIMIT_UNITS = [XT_LIMIT_SCALE * 86400, XT_LIMIT_SCALE * 3600, XT_LIMIT_SCALE * 60, XT_LIMIT_SCALE];

/**
 * `-m limit` as iptables-nft loads it: add_nft_limit turns libxt_limit's
 * average interval back into a rate per the largest unit it divides well,
 * and the kernel's nft_limit (net/netfilter/nft_limit.c) keeps a bucket of
 * nanoseconds: cost = unit/rate, full at cost*burst, refilled by the ns that
 * passed. Unlike xt_limit, the burst is exact and time is not cut into jiffies.
 */
function nftLimit(average: number, burst: number, invert: boolean, state: MatchState, line: number): ReturnType<MatchFactory> {
  const settings = state.settings;
  let index = 1;
  for (; index < NFT_LIMIT_UNITS.length; index++) {
    const unit = NFT_LIMIT_UNITS[index]!;
    if (average > unit || Math.floor(unit / average) < unit % average) break;
  }
  const multiplier = NFT_LIMIT_UNITS[index - 1]!;
  const rate = BigInt(Math.floor(multiplier / average));
  const nsecs = BigInt(multiplier / XT_LIMIT_SCALE) * 1_000_000_000n;
  const cost = nsecs / rate;
  const tokensMax = cost * BigInt(burst);
  let tokens = tokensMax;
  let last: bigint | null = null;
  const nowNs = (context: PacketContext) => BigInt(Math.round(context.clockNs ?? ((context.jiffies - settings.startJiffies) * 1e9) / settings.hz));
  const bucket: LimitBucket = {
    describe: (context) => {
      const available = last === null ? tokensMax : tokens + (nowNs(context) - last);
      const packets = Number(((available > tokensMax ? tokensMax : available) * 100n) / cost) / 100;
      return `limit (line ${line}): ${packets.toFixed(2)} of ${burst} packets' tokens`;
    },
  };
  state.tables.set(`limit:${line}`, bucket);
  return (_packet, context) => {
    const now = nowNs(context);
    // The bucket was full when the rule was loaded, before the first packet.
    let available = last === null ? tokensMax : tokens + (now - last);
    if (available > tokensMax) available = tokensMax;
    last = now;
    if (available >= cost) {
      tokens = available - cost;
      return !invert;
    }
    tokens = available;
    return invert;
  };
}

/** POW2_BELOW32: the largest power of two not above x. */
export function pow2Below32(x: number): number {
  let power = 1;
  while (power * 2 <= x) power *= 2;
  return power;
}
