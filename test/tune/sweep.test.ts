import { describe, expect, it } from "vitest";
import { runModel } from "../../src/engines/model/model-engine.js";
import { loadReplays } from "../../src/traffic/replay/load-replays.js";
import { scenarioWithSetting } from "../../src/tune/apply-setting.js";
import { isUnsafe, paretoFront } from "../../src/tune/pareto.js";
import { gridNeighbours, recommend } from "../../src/tune/recommend.js";
import { attackSources, legitimateSources, measureRun, type RunMetrics } from "../../src/verdict/run-metrics.js";
import { sweepChunk, type SettingResult } from "../../src/tune/sweep-chunk.js";
import { gridSettings, parseSweepSpace, randomSettings, shardOf, type TuneSetting } from "../../src/tune/sweep-space.js";
import { loadTuneScenario, tuneScenarioRefs } from "../../src/tune/tune-scenarios.js";

describe("the sweep space (--param, --grid, --random, --shard)", () => {
  it("turns ranges into grid points: every integer up to 40 of them, else 40 spread evenly", () => {
    const space = parseSweepSpace(["hits=2..40", "seconds=5..300", "matcher=recent,hashlimit"], true);
    const settings = gridSettings(space);
    expect(new Set(settings.map((s) => s.hits)).size).toBe(39);
    const seconds = [...new Set(settings.map((s) => s.seconds))];
    expect(seconds).toHaveLength(40);
    expect([seconds[0], seconds.at(-1)]).toEqual([5, 300]);
    expect(settings).toHaveLength(2 * 39 * 40);
    expect(gridSettings(parseSweepSpace(["hits=10", "seconds=30..90:30"], true)).map((s) => s.seconds)).toEqual([30, 60, 90]);
    // Without --param: the same grid (hits 2..40, seconds 5..300 at 40 points, recent).
    expect(gridSettings(parseSweepSpace([], true))).toHaveLength(39 * 40);
  });

  it("draws --random settings reproducibly and without repeats", () => {
    const space = parseSweepSpace(["hits=2..40", "seconds=5..300"], false);
    const drawn = randomSettings(space, 500, 7);
    expect(drawn).toEqual(randomSettings(space, 500, 7));
    expect(new Set(drawn.map((s) => `${s.hits}/${s.seconds}`)).size).toBe(500);
    expect(drawn.every((s) => s.hits >= 2 && s.hits <= 40 && s.seconds >= 5 && s.seconds <= 300)).toBe(true);
  });

  it("splits settings into shards that cover each setting exactly once", () => {
    const settings = gridSettings(parseSweepSpace(["hits=2..12", "seconds=5..60:5"], true));
    const shards = [1, 2, 3].map((i) => shardOf(settings, i, 3));
    expect(shards.flat()).toEqual(settings);
  });

  it("says what is wrong with a parameter", () => {
    expect(() => parseSweepSpace(["window=60"], true)).toThrow(/tune sweeps hits, seconds, matcher/);
    expect(() => parseSweepSpace(["hits=1..40"], true)).toThrow(/1 is not an integer in 2\.\.65535/);
    expect(() => parseSweepSpace(["seconds=300..5"], true)).toThrow(/the range is empty/);
    expect(() => parseSweepSpace(["matcher=limit"], true)).toThrow(/matchers are recent, hashlimit, nft-meter/);
    expect(() => parseSweepSpace(["hits"], true)).toThrow(/expected NAME=VALUES/);
  });
});

const settingsOf = (hits: number[], seconds: number[]): TuneSetting[] => hits.flatMap((h) => seconds.map((s) => ({ matcher: "recent" as const, hits: h, seconds: s })));

describe("sweeping settings over scenarios", () => {
  it("gives exactly the metrics of simulating every setting afresh (runs proven identical are reused)", async () => {
    const refs = tuneScenarioRefs("broken-phone,register-flood,roaming-user,blf-subscribe");
    const settings = [...settingsOf([2, 3, 10], [5, 60, 250]), { matcher: "hashlimit" as const, hits: 10, seconds: 60 }];
    const swept: SettingResult[] = [];
    await sweepChunk(refs, settings, (result) => swept.push(result));
    expect(swept.reduce((count, result) => count + result.simulated, 0)).toBeLessThan(settings.length * refs.length);
    for (const result of swept) {
      for (const ref of refs) {
        const scenario = scenarioWithSetting(loadTuneScenario(ref), result.setting);
        const fresh: RunMetrics = measureRun(scenario, runModel(scenario, {}, await loadReplays(scenario)), legitimateSources(scenario), attackSources(scenario));
        expect(result.byScenario[ref.label], `${ref.label} ${JSON.stringify(result.setting)}`).toEqual(fresh);
      }
    }
  }, 60_000);

  it("counts the returning phone of register-flood as locked out when the window outlasts the attack (an unsafe setting)", async () => {
    const refs = tuneScenarioRefs("register-flood");
    const swept: SettingResult[] = [];
    await sweepChunk(refs, settingsOf([10], [60, 250]), (result) => swept.push(result));
    expect(swept.map(isUnsafe)).toEqual([false, true]);
    expect(swept[0]!.total).toMatchObject({ legitRegistrationsLost: 0, attackersNeverBlocked: 0, maxPacketsToBlock: 10 });
    expect(swept[1]!.total.legitRegistrationsLost).toBe(1);
  }, 60_000);
});

const fake = (hits: number, seconds: number, attack: number, harm: number, lost = 0, passwordsFound = 0): SettingResult => ({
  setting: { matcher: "recent", hits, seconds },
  total: { attackDelivered: attack, attackSent: 100, attackersNeverBlocked: 0, attackers: 1, maxSecondsToBlock: 1, maxPacketsToBlock: hits, legitRegistrationsLost: lost, legitAgents: 1, legitDropped: harm, legitSecondsBlocked: 0, passwordsFound },
  byScenario: {},
  simulated: 1,
});

describe("Pareto front and recommendation", () => {
  it("keeps the settings no other setting beats on both attack let through and legitimate harm", () => {
    const results = [fake(2, 5, 10, 50, 1), fake(3, 5, 20, 5), fake(4, 5, 30, 0), fake(5, 5, 40, 0), fake(6, 5, 25, 10)];
    expect(paretoFront(results).map((r) => r.setting.hits)).toEqual([2, 3, 4]);
  });

  it("counts a found password as the worst outcome: a setting under which the cracker wins loses to one that drops a few legitimate requests", () => {
    const results = [fake(3, 5, 20, 4), fake(4, 5, 25, 4), fake(20, 5, 60, 0, 0, 1), fake(21, 5, 65, 0, 0, 1)];
    const recommendation = recommend(results)!;
    expect(recommendation.result.setting.hits).toBe(3);
    expect(recommendation.reason).not.toMatch(/password/);
    // When every setting lets a password be found, the fewest found wins, and the reason says so.
    const cracked = recommend([fake(3, 5, 20, 0, 0, 2), fake(4, 5, 25, 0, 0, 1), fake(5, 5, 30, 0, 0, 1)])!;
    expect(cracked.result.setting.hits).toBe(4);
    expect(cracked.reason).toMatch(/^recent hits=4 seconds=5: 1 password is still found under it, the fewest of any safe setting; no legitimate packet is dropped/);
  });

  it("never recommends an unsafe setting, nor one next to an unsafe setting when a safer choice exists", () => {
    const results = [fake(2, 5, 10, 0, 1), fake(3, 5, 20, 0), fake(4, 5, 30, 0), fake(5, 5, 40, 0)];
    const recommendation = recommend(results)!;
    expect(recommendation.result.setting.hits).toBe(4);
    expect(isUnsafe(recommendation.result)).toBe(false);
    expect(recommendation.reason).toMatch(/1 of 4 settings lock a phone out somewhere/);
    expect(recommend([fake(2, 5, 10, 0, 1)])).toBeNull();
  });

  it("on the built-in scenarios, recommends a safe setting whose grid neighbours are safe too", async () => {
    const refs = tuneScenarioRefs(undefined);
    const settings = gridSettings(parseSweepSpace(["hits=2..12:2", "seconds=5..305:60"], true));
    const swept: SettingResult[] = [];
    await sweepChunk(refs, settings, (result) => swept.push(result));
    expect(swept.some(isUnsafe)).toBe(true);
    const recommendation = recommend(swept)!;
    expect(isUnsafe(recommendation.result)).toBe(false);
    expect(gridNeighbours(recommendation.result, swept).every((neighbour) => !isUnsafe(neighbour))).toBe(true);
  }, 120_000);
});
