import type { SettingResult } from "./sweep-chunk.js";

/** The two costs traded against each other: attack let through, and harm done to legitimate users. */
export const attackLetThrough = (result: SettingResult) => result.total.attackDelivered;
export const legitimateHarm = (result: SettingResult) => result.total.legitDropped + result.total.legitRegistrationsLost;

/** A setting that locks a legitimate phone out of any scenario (it never registers). */
export const isUnsafe = (result: SettingResult) => result.total.legitRegistrationsLost > 0;

/** The scenario runs (label, variant included) in which a setting locks a legitimate phone out. */
export const unsafeIn = (result: SettingResult) =>
  Object.entries(result.byScenario)
    .filter(([, metrics]) => metrics.legitRegistrationsLost > 0)
    .map(([label]) => label);

/**
 * Settings no other setting beats on both costs (ties kept once per cost
 * pair, the first in sweep order), ordered by attack let through.
 */
export function paretoFront(results: readonly SettingResult[]): SettingResult[] {
  const byCosts = new Map<string, SettingResult>();
  for (const result of results) {
    const key = `${attackLetThrough(result)}/${legitimateHarm(result)}`;
    if (!byCosts.has(key)) byCosts.set(key, result);
  }
  const candidates = [...byCosts.values()].sort((a, b) => attackLetThrough(a) - attackLetThrough(b) || legitimateHarm(a) - legitimateHarm(b));
  const front: SettingResult[] = [];
  let bestHarm = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (legitimateHarm(candidate) < bestHarm) {
      front.push(candidate);
      bestHarm = legitimateHarm(candidate);
    }
  }
  return front;
}
