import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ownerOfThisProcess, ownerState } from "./run-owner.js";

/** One lab at a time per machine: every run uses the same lab subnets (lab-topology.ts). */
export function labLockPath(): string {
  return join(tmpdir(), "slamlab-docker-lab.lock");
}

export interface LabLock {
  release(): void;
}

/**
 * Takes the machine's lab lock, waiting for a run that holds it (saying so
 * once) and taking over from one whose process is gone. The lock file holds
 * the owner ("host:pid:start").
 */
export async function acquireLabLock(onWait: (holder: string) => void, path = labLockPath()): Promise<LabLock> {
  const me = ownerOfThisProcess();
  let told = false;
  for (;;) {
    try {
      writeFileSync(path, me, { flag: "wx" });
      return {
        release: () => {
          try {
            if (readFileSync(path, "utf8") === me) rmSync(path, { force: true });
          } catch {
            // Already gone.
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let holder = "";
    try {
      holder = readFileSync(path, "utf8");
    } catch {
      continue; // released between our two calls
    }
    if (holder === me || ownerState(holder) === "gone") {
      rmSync(path, { force: true });
      continue;
    }
    if (!told) onWait(holder);
    told = true;
    await sleep(500);
  }
}
