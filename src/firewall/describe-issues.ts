import type { z } from "zod";

/** YAML's own refusals while building values: an alias bomb or an alias to no anchor. */
export function yamlValueProblem(error: unknown): string {
  const message = (error as Error).message.split("\n")[0]!;
  if (/alias count/i.test(message)) return "too many YAML aliases (an alias bomb: each one expands to a copy of its anchor); write the values out";
  if (/unresolved alias/i.test(message)) return `${message}; define the anchor (&name) before using *name`;
  return message;
}

/** One line per schema problem: `path.to.field: what was expected (got what)`. */
export function describeIssues(error: z.ZodError, root: string, input: unknown): string[] {
  return error.issues.map((issue) => {
    const path = formatPath(root, issue.path);
    const found = valueAt(input, issue.path);
    const got = found === undefined ? "" : `; got ${typeof found === "number" && !Number.isFinite(found) ? String(found) : JSON.stringify(found)}`;
    return `${path}: ${issue.message}${got}`;
  });
}

export function formatPath(root: string, path: readonly PropertyKey[]): string {
  let text = root;
  for (const part of path) text += typeof part === "number" ? `[${part}]` : `${text ? "." : ""}${String(part)}`;
  return text || "(top level)";
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = input;
  for (const part of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return typeof value === "object" ? undefined : value;
}
