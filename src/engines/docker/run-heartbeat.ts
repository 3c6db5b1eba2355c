import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** Rewritten every second with a new count by the slamlab process while its run lives. */
const HEARTBEAT_FILE = "heartbeat";
/** Seconds without a heartbeat after which a traffic container kills everything it runs but its init. */
export const WATCHDOG_SECONDS = 10;
// Checks every 2 s at the lowest priority, so its few forks never stand between the runner and its next send.
// It counts its own sleeps and watches the count change, not file times against `date`: a wall clock step
// (an NTP sync on a fresh CI machine) would otherwise look like a silent slamlab and kill a live run.
/** The shell loop each traffic container runs beside its runner (the lab's folder is its /out). */
export const TRAFFIC_WATCHDOG = `last=; quiet=0; while [ $quiet -lt ${WATCHDOG_SECONDS} ]; do sleep 2; beat=$(cat /out/${HEARTBEAT_FILE} 2>/dev/null); if [ "$beat" = "$last" ]; then quiet=$((quiet + 2)); else quiet=0; last=$beat; fi; done; kill -9 -1`;

export interface Heartbeat {
  stop(): void;
}

/**
 * Beats in the lab's folder until stopped. A beat that cannot be written ends
 * the heartbeat instead of the process: a SIGTERM's cleanup removes the folder
 * under a run that may still be starting, and a folder nobody reads needs no beat.
 */
export function startHeartbeat(labFolder: string, periodMs = 1000): Heartbeat {
  const file = join(labFolder, HEARTBEAT_FILE);
  let beats = 0;
  const beat = (): boolean => {
    try {
      writeFileSync(file, String(beats++));
      return true;
    } catch {
      return false;
    }
  };
  if (!beat()) return { stop: () => undefined };
  const timer = setInterval(() => {
    if (!beat()) clearInterval(timer);
  }, periodMs);
  return { stop: () => clearInterval(timer) };
}
