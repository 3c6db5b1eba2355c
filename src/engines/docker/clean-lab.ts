import { readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeBridgePassage } from "./bridge-passage.js";
import { LABEL_APP, LABEL_RUN, dockerRuntime } from "./docker-runtime.js";
import { labLockPath } from "./lab-lock.js";
import { LABEL_OWNER, ownerState } from "./run-owner.js";

export interface Cleaned {
  readonly containers: number;
  readonly networks: number;
  /** Runs left alone: their slamlab process still runs (or runs on another machine). */
  readonly liveRuns: readonly { readonly runId: string; readonly owner: string }[];
}

/**
 * Removes slamlab's containers and networks: those of one run, or (no run id)
 * every run whose slamlab process is gone, so `slamlab clean` in another
 * shell never pulls a live run's lab away; `force` takes live runs too.
 * Containers first: a network with containers attached cannot be removed.
 */
export async function cleanLab(runId?: string, image?: string, options: { force?: boolean } = {}): Promise<Cleaned> {
  const runtime = await dockerRuntime();
  const dockerode = runtime.container.dockerode;
  const label = runId ? `${LABEL_RUN}=${runId}` : `${LABEL_APP}=slamlab`;
  const containers = await dockerode.listContainers({ all: true, filters: { label: [label] } });
  const networks = await dockerode.listNetworks({ filters: { label: [label] } });
  const owners = new Map<string, string | undefined>();
  for (const labels of [...containers.map((info) => info.Labels), ...networks.map((info) => info.Labels)]) {
    const run = labels?.[LABEL_RUN] ?? "";
    if (!owners.has(run) || owners.get(run) === undefined) owners.set(run, labels?.[LABEL_OWNER]);
  }
  const live = runId || options.force ? [] : [...owners].filter(([, owner]) => ownerState(owner) !== "gone").map(([run, owner]) => ({ runId: run, owner: owner! }));
  const keep = new Set(live.map((run) => run.runId));
  const doomed = (labels: Record<string, string> | undefined) => !keep.has(labels?.[LABEL_RUN] ?? "");
  // A crashed run may also have left its bridge rules on the Docker host: all of them when no run is live.
  if (!runId && image) {
    if (keep.size === 0) await closeBridgePassage(runtime, image).catch(() => undefined);
    else for (const run of owners.keys()) if (!keep.has(run)) await closeBridgePassage(runtime, image, run).catch(() => undefined);
  }
  const removable = containers.filter((info) => doomed(info.Labels));
  await Promise.all(removable.map((info) => dockerode.getContainer(info.Id).remove({ force: true, v: true }).catch(() => undefined)));
  let removed = 0;
  for (const info of networks.filter((network) => doomed(network.Labels))) {
    try {
      await dockerode.getNetwork(info.Id).remove();
      removed++;
    } catch {
      // Already gone (a concurrent clean), which is what we wanted.
    }
  }
  // A killed run's lab lock: the next run would take it over anyway.
  if (!runId) {
    try {
      if (ownerState(readFileSync(labLockPath(), "utf8")) === "gone" || options.force) rmSync(labLockPath(), { force: true });
    } catch {
      // No lock.
    }
  }
  // The runs' log directories (a killed run cannot remove its own); a live run keeps its own.
  const prefix = runId ? `slamlab-${runId}-` : "slamlab-";
  for (const name of readdirSync(tmpdir())) {
    const match = /^slamlab-([0-9a-f]{8})-/.exec(name);
    if (name.startsWith(prefix) && match && !keep.has(match[1]!)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  return { containers: removable.length, networks: removed, liveRuns: live };
}
