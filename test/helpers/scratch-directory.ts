import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

const made: string[] = [];

// Registered while the importing test file is collected, so it runs when that file's tests end.
afterAll(() => {
  for (const directory of made.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** A fresh directory under the system's temp dir, removed when the test file ends. */
export function scratchDirectory(purpose: string): string {
  const directory = mkdtempSync(join(tmpdir(), `slamlab-${purpose}-`));
  made.push(directory);
  return directory;
}
