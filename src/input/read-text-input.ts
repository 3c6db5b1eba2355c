import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** Text inputs (scenarios, policies, rulesets, results) are small; a bigger one is a mistake, not a job. */
export const TEXT_INPUT_LIMIT_BYTES = 64 * 1024 * 1024;

export class InputFileError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "is a folder, not a file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "ENOTDIR") return "a part of the path is not a folder";
  return (error as Error).message;
}

/**
 * Reads a text input in chunks up to a cap, so /dev/zero, a FIFO that never
 * ends or a multi-gigabyte file is refused with its size instead of filling
 * memory; a folder is refused by name. `what` says what the file should be.
 */
export function readTextInput(path: string, what: string, limitBytes = TEXT_INPUT_LIMIT_BYTES): string {
  let descriptor: number;
  try {
    descriptor = openSync(path, "r");
  } catch (error) {
    throw new InputFileError("INPUT_NOT_READABLE", `${path}: ${describe(error)}; give ${what}`);
  }
  try {
    if (fstatSync(descriptor).isDirectory()) throw new InputFileError("INPUT_NOT_READABLE", `${path}: is a folder, not a file; give ${what}`);
    const chunks: Buffer[] = [];
    let total = 0;
    const chunk = Buffer.allocUnsafe(1024 * 1024);
    for (;;) {
      let read: number;
      try {
        read = readSync(descriptor, chunk, 0, chunk.length, null);
      } catch (error) {
        throw new InputFileError("INPUT_NOT_READABLE", `${path}: ${describe(error)}; give ${what}`);
      }
      if (read === 0) break;
      total += read;
      if (total > limitBytes) {
        throw new InputFileError("INPUT_TOO_LARGE", `${path}: more than ${limitBytes / 1024 / 1024} MiB; ${what} is far smaller (is this the right file?)`);
      }
      chunks.push(Buffer.from(chunk.subarray(0, read)));
    }
    return Buffer.concat(chunks, total).toString("utf8");
  } finally {
    closeSync(descriptor);
  }
}
