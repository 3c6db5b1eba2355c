import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";
import { forkRandom } from "../../../../traffic/random.js";

/**
 * xt_statistic.c statistic_mt. `--mode nth --every N --packet P`: each rule
 * keeps one counter (its `master`), started at N-1-P as libxt_statistic
 * sets it, stepped per packet the rule sees and wrapped to 0 after N-1: the
 * packet that wraps it matches, so the P-th (from 0) of every N does.
 * `--mode random --probability F`: the kernel matches when
 * get_random_u32() & 0x7fffffff is under round(F * 2^31); the model draws
 * from a generator seeded by the rule's line and text, so a run repeats
 * itself (0 never matches, 1 always, as in the kernel). `!` on --every or
 * --probability inverts the result.
 */
export const statisticMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("statistic", rawOptions, where);
  const mode = options.value("mode");
  if (mode === undefined) throw options.error(`option "--mode" must be specified`);
  if (options.get("mode")!.negated) throw options.error(`option "--mode" cannot be inverted`);
  if (options.has("probability") && (options.has("every") || options.has("packet"))) throw options.error(`option "--probability" cannot be used together with "--every" or "--packet"`);
  if (options.has("every") !== options.has("packet")) throw options.error(`"--every" and "--packet" go together`);
  const inverted = options.get("probability")?.negated === true || options.get("every")?.negated === true;
  if (options.get("packet")?.negated) throw options.error(`option "--packet" cannot be inverted`);
  if (mode === "random") {
    const text = options.value("probability");
    if (text === undefined) throw options.error("--probability must be specified when using random mode");
    const probability = /^(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(text) ? Number(text) : Number.NaN;
    if (!(probability >= 0 && probability <= 1)) throw options.error(`--probability ${text}: a number from 0 to 1`);
    const threshold = Math.round(0x80000000 * probability);
    // The kernel's 31 random bits, from a stream of the rule's own.
    const random = forkRandom(0, `statistic at line ${where.line}: ${where.text}`);
    return () => (Math.floor(random() * 0x80000000) < threshold) !== inverted;
  }
  if (mode !== "nth") throw options.error(`Bad mode "${mode}": random or nth`);
  if (!options.has("every")) throw options.error("--every and --packet must be specified when using nth mode");
  const every = options.integer("every", 1, 1, 0xffffffff) - 1;
  const packet = options.integer("packet", 0, 0, 0xffffffff);
  if (packet > every) throw options.error("the --packet p must be 0 <= p <= n-1");
  let count = every - packet;
  return () => {
    count = count === every ? 0 : count + 1;
    return (count === 0) !== inverted;
  };
};

