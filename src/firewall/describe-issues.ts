import type { z } from "zod";

/** One line per schema problem: `path.to.field: what was expected (got what)`. */
export function describeIssues(error: z.ZodError, root: string, input: unknown): string[] {
  return error.issues.map((issue) => {
    const path = formatPath(root, issue.path);
    const found = valueAt(input, issue.path);
    const got = found === undefined ? "" : `; got ${JSON.stringify(found)}`;
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
