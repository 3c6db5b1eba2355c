import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** slamlab's package root, whether running from src/ (tests) or dist/src/ (the bin). */
export function packageRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, "package.json"))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error("slamlab's package.json not found above its sources");
    directory = parent;
  }
  return directory;
}
