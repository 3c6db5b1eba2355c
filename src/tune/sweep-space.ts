import { randomInt, seededRandom } from "../traffic/random.js";

/** One point of a sweep: the matcher and the thresholds the generated policy gets. */
export interface TuneSetting {
  /**
   * The generated policy's matcher: recent and hashlimit as iptables rules;
   * nft-meter, the policy as nftables rules (its per-source limit a token
   * bucket in a dynamic set, `update @counted { ip saddr limit rate over ... }`);
   * or "ruleset": the user's own ruleset with its swept options set (ruleset-template.ts).
   */
  readonly matcher: "recent" | "hashlimit" | "nft-meter" | "ruleset";
  /** REGISTERs (counted methods) that make a source slamming... */
  readonly hits: number;
  /** ...within this many seconds. */
  readonly seconds: number;
}

export const tunedParameters = ["hits", "seconds", "matcher"] as const;
/** The matchers a generated policy can be swept with (`--param matcher=...`). */
export const GENERATED_MATCHERS = ["recent", "hashlimit", "nft-meter"] as const;
type NumericParameter = "hits" | "seconds";

export interface SweepSpace {
  readonly hits: readonly number[] | { readonly min: number; readonly max: number };
  readonly seconds: readonly number[] | { readonly min: number; readonly max: number };
  readonly matcher: readonly TuneSetting["matcher"][];
}

export class TuneError extends Error {
  readonly code = "TUNE_INPUT";
}

/** Grid points of a range written without a step: every integer up to this many, else this many evenly spread. */
const GRID_POINTS = 40;
/** What `slamlab tune` sweeps when a parameter is not given. */
const DEFAULT_RANGES: Record<NumericParameter, string> = { hits: "2..40", seconds: "5..300" };
const BOUNDS: Record<NumericParameter, { min: number; max: number }> = { hits: { min: 2, max: 65_535 }, seconds: { min: 1, max: 86_400 } };

/**
 * `--param hits=2..40`, `--param seconds=5..300:5`, `--param seconds=30,60,120`,
 * `--param matcher=recent,hashlimit`. Ranges keep their bounds for --random;
 * --grid turns them into points.
 */
export function parseSweepSpace(params: readonly string[], grid: boolean): SweepSpace {
  const space: { hits: SweepSpace["hits"]; seconds: SweepSpace["seconds"]; matcher: SweepSpace["matcher"] } = {
    hits: parseNumeric("hits", DEFAULT_RANGES.hits, grid),
    seconds: parseNumeric("seconds", DEFAULT_RANGES.seconds, grid),
    matcher: ["recent"],
  };
  for (const text of params) {
    const match = /^([a-z]+)=(.+)$/.exec(text);
    if (!match) throw new TuneError(`--param ${text}: expected NAME=VALUES such as hits=2..40, seconds=30,60,120 or matcher=recent,hashlimit,nft-meter`);
    const [, name, values] = match as unknown as [string, string, string];
    if (name === "matcher") {
      const matchers = values.split(",");
      for (const matcher of matchers) if (!(GENERATED_MATCHERS as readonly string[]).includes(matcher)) throw new TuneError(`--param matcher=${values}: matchers are ${GENERATED_MATCHERS.join(", ")}`);
      space.matcher = [...new Set(matchers)] as TuneSetting["matcher"][];
    } else if (name === "hits" || name === "seconds") {
      space[name] = parseNumeric(name, values, grid);
    } else {
      throw new TuneError(`--param ${name}: tune sweeps ${tunedParameters.join(", ")}`);
    }
  }
  return space;
}

function parseNumeric(name: string, text: string, grid: boolean, bounds: { min: number; max: number } = BOUNDS[name as NumericParameter]): readonly number[] | { min: number; max: number } {
  const check = (value: number) => {
    if (!Number.isInteger(value) || value < bounds.min || value > bounds.max) throw new TuneError(`--param ${name}=${text}: ${value} is not an integer in ${bounds.min}..${bounds.max}`);
    return value;
  };
  const range = /^(\d+)\.\.(\d+)(?::(\d+))?$/.exec(text);
  if (!range) return [...new Set(text.split(",").map((part) => check(Number(part))))].sort((a, b) => a - b);
  const min = check(Number(range[1]));
  const max = check(Number(range[2]));
  if (max < min) throw new TuneError(`--param ${name}=${text}: the range is empty (${min} > ${max})`);
  if (range[3] !== undefined) {
    const step = Number(range[3]);
    if (step < 1) throw new TuneError(`--param ${name}=${text}: the step must be at least 1`);
    return Array.from({ length: Math.floor((max - min) / step) + 1 }, (_, index) => min + index * step);
  }
  if (!grid) return { min, max };
  const count = max - min + 1;
  if (count <= GRID_POINTS) return Array.from({ length: count }, (_, index) => min + index);
  return [...new Set(Array.from({ length: GRID_POINTS }, (_, index) => Math.round(min + ((max - min) * index) / (GRID_POINTS - 1))))];
}

/**
 * The sweep over a user's own ruleset: `--param 'CHAIN:INDEX --option=VALUES'`,
 * one or two of them; the first is the "hits" axis, the second the "seconds"
 * axis (a single option keeps the other axis at 0, unused).
 */
export function parseRulesetSpace(params: ReadonlyArray<{ label: string; values: string; lowest?: number }>, grid: boolean): SweepSpace {
  const axis = (param: { label: string; values: string; lowest?: number } | undefined) => (param ? parseNumeric(`'${param.label}'`, param.values, grid, { min: param.lowest ?? 0, max: 0xffffffff }) : [0]);
  return { hits: axis(params[0]), seconds: axis(params[1]), matcher: ["ruleset"] };
}

const valuesOf = (axis: SweepSpace["hits"]): readonly number[] => ("min" in axis ? Array.from({ length: axis.max - axis.min + 1 }, (_, index) => axis.min + index) : axis);

/** Every combination, ordered so neighbouring settings differ in `seconds` first (they often behave alike). */
export function gridSettings(space: SweepSpace): TuneSetting[] {
  const settings: TuneSetting[] = [];
  for (const matcher of space.matcher) for (const hits of valuesOf(space.hits)) for (const seconds of valuesOf(space.seconds)) settings.push({ matcher, hits, seconds });
  return settings;
}

/** `count` distinct settings drawn uniformly from the space (seeded), in grid order. */
export function randomSettings(space: SweepSpace, count: number, seed: number): TuneSetting[] {
  const random = seededRandom(seed);
  const draw = (axis: SweepSpace["hits"]) => ("min" in axis ? randomInt(random, axis.min, axis.max) : axis[Math.floor(random() * axis.length)]!);
  const chosen = new Map<string, TuneSetting>();
  const limit = space.matcher.length * sizeOf(space.hits) * sizeOf(space.seconds);
  while (chosen.size < Math.min(count, limit)) {
    const setting: TuneSetting = { matcher: space.matcher[Math.floor(random() * space.matcher.length)]!, hits: draw(space.hits), seconds: draw(space.seconds) };
    chosen.set(settingKey(setting), setting);
  }
  return [...chosen.values()].sort((a, b) => a.matcher.localeCompare(b.matcher) || a.hits - b.hits || a.seconds - b.seconds);
}

const sizeOf = (axis: SweepSpace["hits"]) => ("min" in axis ? axis.max - axis.min + 1 : axis.length);

export function settingKey(setting: TuneSetting): string {
  return `${setting.matcher} hits=${setting.hits} seconds=${setting.seconds}`;
}

/** Shard i of n (1-based): a contiguous block, so a worker's neighbouring settings stay together. */
export function shardOf<T>(items: readonly T[], index: number, count: number): T[] {
  const start = Math.floor((items.length * (index - 1)) / count);
  const end = Math.floor((items.length * index) / count);
  return items.slice(start, end);
}
