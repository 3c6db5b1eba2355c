import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/** Label naming the slamlab process that owns a run's containers and networks. */
export const LABEL_OWNER = "slamlab.owner";

/** Field 22 of /proc/PID/stat: the process's start time in clock ticks, so a reused pid is not taken for the owner. */
function startTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses; fields after it are plain.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/** "host:pid:start" of this process. */
export function ownerOfThisProcess(): string {
  return `${hostname()}:${process.pid}:${startTicks(process.pid) ?? "0"}`;
}

export type OwnerState = "alive" | "gone" | "elsewhere";

/**
 * Whether the slamlab process that started a run still runs: only a process
 * on this machine can be checked; a run from another machine on a shared
 * Docker host is "elsewhere". Runs of slamlab versions without the label are "gone".
 */
export function ownerState(owner: string | undefined): OwnerState {
  if (!owner) return "gone";
  const [host, pidText, ticks] = owner.split(":");
  if (host !== hostname()) return "elsewhere";
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return "gone";
  return startTicks(pid) === ticks ? "alive" : "gone";
}
