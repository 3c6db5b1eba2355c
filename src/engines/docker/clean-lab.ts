import { readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeBridgePassage } from "./bridge-passage.js";
import { LABEL_APP, LABEL_RUN, dockerRuntime } from "./docker-runtime.js";

export interface Cleaned {
  readonly containers: number;
  readonly networks: number;
}

/**
 * Removes slamlab's containers and networks: those of one run, or (no run id)
 * every leftover of crashed runs. Containers first: a network with
 * containers attached cannot be removed.
 */
export async function cleanLab(runId?: string, image?: string): Promise<Cleaned> {
  const runtime = await dockerRuntime();
  const dockerode = runtime.container.dockerode;
  // A crashed run may also have left its bridge rules on the Docker host.
  if (!runId && image) await closeBridgePassage(runtime, image).catch(() => undefined);
  const label = runId ? `${LABEL_RUN}=${runId}` : `${LABEL_APP}=slamlab`;
  const containers = await dockerode.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(containers.map((info) => dockerode.getContainer(info.Id).remove({ force: true, v: true }).catch(() => undefined)));
  const networks = await dockerode.listNetworks({ filters: { label: [label] } });
  let removed = 0;
  for (const info of networks) {
    try {
      await dockerode.getNetwork(info.Id).remove();
      removed++;
    } catch {
      // Already gone (a concurrent clean), which is what we wanted.
    }
  }
  // The runs' log directories (a killed run cannot remove its own).
  const prefix = runId ? `slamlab-${runId}-` : "slamlab-";
  for (const name of readdirSync(tmpdir())) {
    if (name.startsWith(prefix) && /^slamlab-[0-9a-f]{8}-/.test(name)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  return { containers: containers.length, networks: removed };
}
