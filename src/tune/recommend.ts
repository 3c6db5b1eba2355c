import { attackLetThrough, isUnsafe, legitimateHarm } from "./pareto.js";
import type { SettingResult } from "./sweep-chunk.js";
import { settingKey } from "./sweep-space.js";

export interface Recommendation {
  readonly result: SettingResult;
  readonly reason: string;
}

/**
 * Never an unsafe setting. Among safe ones: the fewest passwords found (an
 * attack that won is the worst outcome), then least harm to legitimate users
 * first (a dropped refresh is a support call), then least attack let through,
 * then the fastest worst-case block, then the most lenient (highest hits,
 * then shortest window), which leaves phones the most headroom for the same
 * protection.
 */
export function recommend(results: readonly SettingResult[]): Recommendation | null {
  const safe = results.filter((result) => !isUnsafe(result));
  if (safe.length === 0) return null;
  // A setting whose grid neighbours are safe too: a little drift in traffic does not tip it over.
  const robust = safe.filter((result) => gridNeighbours(result, results).every((neighbour) => !isUnsafe(neighbour)));
  const candidates = robust.length > 0 ? robust : safe;
  const packetsToBlock = (result: SettingResult) => result.total.maxPacketsToBlock ?? Number.POSITIVE_INFINITY;
  const ranked = [...candidates].sort(
    (a, b) =>
      a.total.passwordsFound - b.total.passwordsFound ||
      legitimateHarm(a) - legitimateHarm(b) ||
      attackLetThrough(a) - attackLetThrough(b) ||
      packetsToBlock(a) - packetsToBlock(b) ||
      b.setting.hits - a.setting.hits ||
      a.setting.seconds - b.setting.seconds,
  );
  const best = ranked[0]!;
  const equals = ranked.filter((result) => result.total.passwordsFound === best.total.passwordsFound && legitimateHarm(result) === legitimateHarm(best) && attackLetThrough(result) === attackLetThrough(best)).length;
  const total = best.total;
  const worstBlock = total.maxPacketsToBlock === null ? "" : ` within ${total.maxPacketsToBlock} requests (${total.maxSecondsToBlock!.toFixed(1)} s) at worst`;
  const blocking =
    total.attackersNeverBlocked === 0
      ? `every attacker is blocked${worstBlock}`
      : `${total.attackers - total.attackersNeverBlocked} of ${total.attackers} attacking addresses are blocked${worstBlock}; ${total.attackersNeverBlocked} stay under the threshold (slow distributed sources no per-address count can see)`;
  const harm = legitimateHarm(best) === 0 ? "no legitimate packet is dropped and every phone registers" : `${total.legitDropped} legitimate requests are dropped (the fewest of any safe setting), every phone still registers`;
  const cracked = total.passwordsFound > 0 ? ` ${total.passwordsFound} password${total.passwordsFound === 1 ? " is" : "s are"} still found under it, the fewest of any safe setting;` : "";
  const reason = [
    `${settingKey(best.setting)}:${cracked} ${harm}; ${total.attackDelivered} of ${total.attackSent} attack requests reach the PBX, the fewest of any setting that harms no more;`,
    `${blocking}.`,
    equals > 1 ? `${equals} settings tie on both costs; this is the most lenient of them (highest hits, then shortest window), which gives phones the most headroom.` : "",
    `${results.length - safe.length} of ${results.length} settings lock a phone out somewhere and were not considered${robust.length > 0 && robust.length < safe.length ? `; nor were ${safe.length - robust.length} safe settings next to one of them` : ""}.`,
  ]
    .filter((part) => part !== "")
    .join(" ");
  return { result: best, reason };
}

/** Settings one grid step away in hits or in seconds, with the same matcher. */
export function gridNeighbours(result: SettingResult, results: readonly SettingResult[]): SettingResult[] {
  const same = results.filter((other) => other.setting.matcher === result.setting.matcher);
  const hits = [...new Set(same.map((other) => other.setting.hits))].sort((a, b) => a - b);
  const seconds = [...new Set(same.map((other) => other.setting.seconds))].sort((a, b) => a - b);
  const step = (values: number[], value: number) => [values[values.indexOf(value) - 1], values[values.indexOf(value) + 1]].filter((v): v is number => v !== undefined);
  const wanted = new Set([
    ...step(hits, result.setting.hits).map((h) => `${h}/${result.setting.seconds}`),
    ...step(seconds, result.setting.seconds).map((s) => `${result.setting.hits}/${s}`),
  ]);
  return same.filter((other) => wanted.has(`${other.setting.hits}/${other.setting.seconds}`));
}
