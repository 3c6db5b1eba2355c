import { PolicyError } from "./policy-error.js";
import type { Policy, PolicyInput } from "./policy.js";
import { validatePolicy } from "./validate-policy.js";

/** Named policies a scenario or `firewall generate --policy NAME` can use. */
export const builtinPolicies: Readonly<Record<string, PolicyInput>> = {
  /** 10 REGISTERs in 60 s, blocked until 120 s quiet. */
  default: {},
  /** Close to the reference post's thresholds (2010): a little more lenient per minute, longer block. */
  "reference-2010": { matcher: { kind: "recent", hits: 20, seconds: 60, name: "SIP" }, blockSeconds: 600 },
  /** A token bucket per source instead of a sliding count. */
  hashlimit: { matcher: { kind: "hashlimit", rate: 10, per: "minute", burst: 10, expireSeconds: 120, name: "SIP" } },
  /** Lower threshold, INVITE counted too, repeat offenders escalated, drops logged to NFLOG group 1. */
  strict: {
    methods: ["REGISTER", "INVITE"],
    matcher: { kind: "recent", hits: 6, seconds: 60, name: "SIP" },
    blockSeconds: 300,
    escalation: { enabled: true, strikes: 3, withinSeconds: 3600, blockSeconds: 86_400 },
    logging: { kind: "nflog", group: 1 },
  },
};

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** Objects merge field by field; arrays and scalars are replaced. */
export function deepMerge(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = merged[key];
    merged[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return merged;
}

function builtin(name: string, where: string): Record<string, unknown> {
  const policy = builtinPolicies[name];
  if (!policy) {
    throw new PolicyError("POLICY_UNKNOWN", `${where}: no built-in policy "${name}"; built-in policies are ${Object.keys(builtinPolicies).join(", ")}`);
  }
  return validatePolicy(policy, `built-in policy ${name}`) as unknown as Record<string, unknown>;
}

/**
 * A policy reference as scenarios write it: a built-in name, or an object
 * merged over a built-in base (`extends: NAME`, default "default").
 */
export function resolvePolicy(ref: string | Record<string, unknown> | undefined, where: string): { policy: Policy; policyName: string } {
  if (ref === undefined) return { policy: builtin("default", where) as unknown as Policy, policyName: "default" };
  if (typeof ref === "string") return { policy: builtin(ref, where) as unknown as Policy, policyName: ref };
  const { extends: base, ...fields } = ref;
  if (base !== undefined && typeof base !== "string") throw new PolicyError("POLICY_INVALID", `${where}: policy.extends must name a built-in policy`);
  const baseName = base ?? "default";
  // The matcher is a tagged union: a matcher of another kind replaces the base's instead of merging into it.
  const baseFields = builtin(baseName, where);
  const matcher = fields.matcher;
  const baseMatcher = baseFields.matcher;
  const merged = deepMerge(
    isPlainObject(matcher) && isPlainObject(baseMatcher) && matcher.kind !== undefined && matcher.kind !== baseMatcher.kind ? { ...baseFields, matcher: {} } : baseFields,
    fields,
  );
  return { policy: validatePolicy(merged, where), policyName: base ? `${baseName}+custom` : "custom" };
}
