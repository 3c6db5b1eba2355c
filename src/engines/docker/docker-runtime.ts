import { EngineUnavailableError } from "../engine.js";

// The ryuk reaper image cannot be pulled where there is no registry; slamlab
// removes what it starts by label instead (see clean-lab.ts).
process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";

/** Every container and network slamlab starts carries these, so `slamlab clean` finds leftovers. */
export const LABEL_APP = "slamlab.app";
export const LABEL_RUN = "slamlab.run";

export type Runtime = Awaited<ReturnType<(typeof import("testcontainers"))["getContainerRuntimeClient"]>>;

/** The Docker engine testcontainers finds (DOCKER_HOST or the local socket), or a clear error. */
export async function dockerRuntime(): Promise<Runtime> {
  const { getContainerRuntimeClient } = await import("testcontainers");
  try {
    return await getContainerRuntimeClient();
  } catch (error) {
    const where = process.env.DOCKER_HOST ? `DOCKER_HOST=${process.env.DOCKER_HOST}` : "/var/run/docker.sock";
    throw new EngineUnavailableError(
      "DOCKER_UNAVAILABLE",
      `--engine docker needs a Docker engine and none answers at ${where} (${firstLine(error)}). Start one (on Debian: apt-get install docker.io && dockerd &, or bash ci/setup-docker.sh), or point DOCKER_HOST at a remote engine; the model engine needs none: --engine model`,
    );
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, 200);
}
