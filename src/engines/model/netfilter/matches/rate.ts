import type { MatchOptions } from "./match-options.js";

const unitSeconds: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * "20/minute" -> the kernel's average interval in 1/scale seconds, as
 * libxt_limit / libxt_hashlimit parse_rate compute it (scale * unit / rate).
 */
export function parseRate(text: string, scale: number, options: MatchOptions, flag: string): number {
  const match = /^(\d+)(?:\/(\w+))?$/.exec(text);
  if (!match) throw options.error(`--${flag} ${text}: expected a rate like 20/minute, 5/second, 100/hour or 3/day`);
  const count = Number(match[1]);
  const unit = (match[2] ?? "second")[0]!.toLowerCase();
  const seconds = unitSeconds[unit];
  if (seconds === undefined || (match[2] && !"second".startsWith(match[2]) && !"minute".startsWith(match[2]) && !"min".startsWith(match[2]) && !"hour".startsWith(match[2]) && !"day".startsWith(match[2]))) {
    throw options.error(`--${flag} ${text}: unknown time unit "${match[2]}" (second, minute, hour, day)`);
  }
  if (count === 0) throw options.error(`--${flag} ${text}: a rate of zero never matches; use DROP instead`);
  const average = Math.floor((scale * seconds) / count);
  if (average === 0) throw options.error(`--${flag} ${text}: rate too fast for the kernel's resolution`);
  return average;
}
