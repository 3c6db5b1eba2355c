import type { UserList } from "./schema.js";

/**
 * Account and extension lists as scenarios write them: a numeric range
 * ("100-199", kept as text so "0100-0199" keeps its zeros) or explicit names.
 * Read by position, never expanded: an extension walk can span millions.
 */
export interface UserSequence {
  readonly size: number;
  at(index: number): string;
  includes(user: string): boolean;
}

export function userSequence(list: UserList): UserSequence {
  if (Array.isArray(list)) {
    const names = new Set(list);
    return { size: list.length, at: (index) => list[index % list.length]!, includes: (user) => names.has(user) };
  }
  const [firstText, lastText] = (list as string).split("-") as [string, string];
  const first = Number(firstText);
  const last = Number(lastText);
  const width = firstText.length;
  const pad = (value: number) => String(value).padStart(width, "0");
  return {
    size: last - first + 1,
    at: (index) => pad(first + (index % (last - first + 1))),
    includes: (user) => /^\d+$/.test(user) && Number(user) >= first && Number(user) <= last && pad(Number(user)) === user,
  };
}

/** The error for a range written backwards, or null when the list is usable. */
export function userListProblem(list: UserList): string | null {
  if (Array.isArray(list)) return null;
  const [firstText, lastText] = (list as string).split("-");
  if (Number(firstText) > Number(lastText)) return `range "${list}" ends before it starts`;
  return null;
}
