import { z } from "zod";
import { describeIssues } from "../firewall/describe-issues.js";
import { isUnsafe, paretoFront } from "./pareto.js";
import { recommend, type Recommendation } from "./recommend.js";
import type { SettingResult } from "./sweep-chunk.js";
import { settingKey } from "./sweep-space.js";

/** Everything a sweep found: what `--out` writes as results.json, and what shards merge from. */
export interface SweepReport {
  readonly format: "slamlab-tune/1";
  readonly scenarios: readonly string[];
  /** What the two axes stand for when the sweep is over a user's own ruleset (its rule options); absent, a policy's hits and seconds. */
  readonly axes?: { readonly hits: string; readonly seconds: string };
  /** The shard this report covers ("1/1" for a whole sweep). */
  readonly shard: string;
  readonly results: readonly SettingResult[];
}

export interface SweepAnalysis {
  readonly front: readonly SettingResult[];
  readonly recommendation: Recommendation | null;
  /** Why there is no recommendation, in the admin's terms (null when there is one). */
  readonly noRecommendation: string | null;
  /** True when no swept scenario attacks: every setting lets nothing through, so nothing can be compared. */
  readonly noAttacker: boolean;
  readonly unsafe: number;
}

export function analyseSweep(results: readonly SettingResult[]): SweepAnalysis {
  const front = paretoFront(results);
  const unsafe = results.filter(isUnsafe).length;
  const noAttacker = results.length > 0 && results.every((result) => result.total.attackers === 0 && result.total.attackSent === 0);
  if (noAttacker) {
    const reason =
      "no swept scenario has an attacker (a register-flood, a replay or an attack tool), so every setting lets the same nothing through and the most lenient would win by default; add an attack scenario to --scenarios";
    return { front, recommendation: null, noRecommendation: reason, noAttacker, unsafe };
  }
  const recommendation = recommend(results);
  const noRecommendation = recommendation ? null : "every setting swept locks a legitimate phone out somewhere; widen the ranges or allowlist the offices";
  return { front, recommendation, noRecommendation, noAttacker, unsafe };
}

export class MergeError extends Error {
  readonly code = "TUNE_MERGE";
}

const count = z.number().finite().min(0);
const metricsSchema = z.object({
  attackDelivered: count,
  attackSent: count,
  attackersNeverBlocked: count,
  attackers: count,
  maxSecondsToBlock: count.nullable(),
  maxPacketsToBlock: count.nullable(),
  legitRegistrationsLost: count,
  legitAgents: count,
  legitDropped: count,
  legitSecondsBlocked: count,
  // Results written before tune counted found passwords have none.
  passwordsFound: count.default(0),
});
const reportSchema = z.object({
  format: z.literal("slamlab-tune/1"),
  scenarios: z.array(z.string()),
  shard: z.string(),
  axes: z.object({ hits: z.string(), seconds: z.string() }).optional(),
  results: z.array(
    z.object({
      setting: z.object({ matcher: z.enum(["recent", "hashlimit", "nft-meter", "ruleset"]), hits: z.number().int().min(0), seconds: z.number().int().min(0) }),
      total: metricsSchema,
      byScenario: z.record(z.string(), metricsSchema),
      simulated: count,
    }),
  ),
});

/** A results.json as tune wrote it, or a MergeError naming the file and the field that is not. */
export function parseSweepReport(file: string, value: unknown): SweepReport {
  const format = (value as { format?: unknown } | null)?.format;
  if (format !== "slamlab-tune/1") throw new MergeError(`${file}: not a slamlab tune result (format ${String(format)}); give the results.json files that tune --shard wrote`);
  const parsed = reportSchema.safeParse(value);
  if (parsed.success) return parsed.data as SweepReport;
  const problems = describeIssues(parsed.error, "", value).slice(0, 5);
  throw new MergeError(`${file}: not a results.json that tune wrote:\n  ${problems.join("\n  ")}`);
}

/** Shard reports of one sweep into one: same scenarios, no setting twice. */
export function mergeReports(reports: ReadonlyArray<{ file: string; report: SweepReport }>): SweepReport {
  if (reports.length === 0) throw new MergeError("tune merge needs at least one results.json");
  const first = reports[0]!;
  const seen = new Map<string, string>();
  const results: SettingResult[] = [];
  for (const { file, report } of reports) {
    if (report.format !== "slamlab-tune/1") throw new MergeError(`${file}: not a slamlab tune result (format ${String(report.format)}); give the results.json files that tune --shard wrote`);
    if (report.scenarios.join("\n") !== first.report.scenarios.join("\n")) {
      throw new MergeError(`${file}: swept scenarios ${report.scenarios.join(", ")}, but ${first.file} swept ${first.report.scenarios.join(", ")}; shards of one sweep must use the same --scenarios`);
    }
    for (const result of report.results) {
      const key = settingKey(result.setting);
      const other = seen.get(key);
      if (other) throw new MergeError(`${file}: ${key} is also in ${other}; each setting must come from one shard`);
      seen.set(key, file);
      results.push(result);
    }
  }
  results.sort((a, b) => a.setting.matcher.localeCompare(b.setting.matcher) || a.setting.hits - b.setting.hits || a.setting.seconds - b.setting.seconds);
  return { format: "slamlab-tune/1", scenarios: first.report.scenarios, shard: "merged", ...(first.report.axes ? { axes: first.report.axes } : {}), results };
}
