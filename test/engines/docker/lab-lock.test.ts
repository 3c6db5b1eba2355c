import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { acquireLabLock } from "../../../src/engines/docker/lab-lock.js";
import { ownerOfThisProcess, ownerState } from "../../../src/engines/docker/run-owner.js";
import { scratchDirectory } from "../../helpers/scratch-directory.js";

const work = scratchDirectory("lab-lock");

/** A pid that ran and is gone: a finished child's. */
function goneOwner(): string {
  const child = spawnSync("true");
  return `${hostname()}:${child.pid}:1`;
}

describe("one docker run at a time per machine", () => {
  it("a second run waits, says who holds the lab, and goes on when the first releases it", async () => {
    const path = join(work, "lock");
    const first = await acquireLabLock(() => undefined, path);
    // The holder is another live process on this machine: our parent, as the lock file would name it.
    writeFileSync(path, `${hostname()}:${process.ppid}:${readFileSync(`/proc/${process.ppid}/stat`, "utf8").split(") ")[1]!.split(" ")[19]}`);
    const waits: string[] = [];
    let second = false;
    const waiting = acquireLabLock((holder) => waits.push(holder), path).then((lock) => {
      second = true;
      return lock;
    });
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(second).toBe(false);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toContain(`:${process.ppid}:`);
    writeFileSync(path, ownerOfThisProcess());
    first.release();
    (await waiting).release();
    expect(second).toBe(true);
    expect(existsSync(path)).toBe(false);
  });

  it("takes over a lock whose run was killed (its process is gone)", async () => {
    const path = join(work, "stale");
    writeFileSync(path, goneOwner());
    const waits: string[] = [];
    const lock = await acquireLabLock((holder) => waits.push(holder), path);
    expect(waits).toEqual([]);
    expect(readFileSync(path, "utf8")).toBe(ownerOfThisProcess());
    lock.release();
  });

  it("tells a live owner from a gone one and from one on another machine", () => {
    expect(ownerState(ownerOfThisProcess())).toBe("alive");
    expect(ownerState(goneOwner())).toBe("gone");
    expect(ownerState(`${process.pid}-other-host:${process.pid}:1`)).toBe("elsewhere");
    expect(ownerState(undefined)).toBe("gone");
  });
});
