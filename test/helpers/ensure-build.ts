import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");

function newest(directory: string, suffix: string): number {
  let latest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(path, suffix));
    else if (entry.name.endsWith(suffix)) latest = Math.max(latest, statSync(path).mtimeMs);
  }
  return latest;
}

/**
 * Compiles dist/ when src/ is newer (the bin and the docker lab's traffic
 * containers run the compiled code). In CI `npm ci` has just built it, so
 * nothing is rewritten while a docker run is reading it.
 */
export function ensureBuild(): void {
  const dist = join(root, "dist", "src");
  if (existsSync(dist) && newest(dist, ".js") >= newest(join(root, "src"), ".ts")) return;
  execFileSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "pipe" });
}
