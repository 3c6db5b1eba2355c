/**
 * What the terminal we print to wants: colour only on a TTY unless NO_COLOR
 * (https://no-color.org) or FORCE_COLOR says otherwise, and its width, so
 * tables fit; piped output is never cut.
 */
export function useColor(stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false";
  return stream.isTTY === true;
}

/** Columns to fit in: the terminal's, COLUMNS when set, no limit when piped. */
export function terminalWidth(stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = Number(env.COLUMNS);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  return stream.isTTY === true && stream.columns ? stream.columns : Number.POSITIVE_INFINITY;
}

/** A line cut to `width` columns with an ellipsis. */
export function fitLine(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}
