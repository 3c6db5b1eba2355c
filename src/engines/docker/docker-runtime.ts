import { EngineUnavailableError } from "../engine.js";
import { probeDockerHost } from "./docker-host-probe.js";

// The ryuk reaper image cannot be pulled where there is no registry; slamlab
// removes what it starts by label instead (see clean-lab.ts).
process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";

/** Every container and network slamlab starts carries these, so `slamlab clean` finds leftovers. */
export const LABEL_APP = "slamlab.app";
export const LABEL_RUN = "slamlab.run";

export type Runtime = Awaited<ReturnType<(typeof import("testcontainers"))["getContainerRuntimeClient"]>>;

/** The Docker engine testcontainers finds (DOCKER_HOST or the local socket), or a clear error. */
export async function dockerRuntime(): Promise<Runtime> {
  const dockerHost = process.env.DOCKER_HOST;
  if (dockerHost) {
    const problem = await probeDockerHost(dockerHost);
    // testcontainers would quietly fall back to /var/run/docker.sock: the user named this engine.
    if (problem) throw unavailable(`DOCKER_HOST=${dockerHost}`, problem);
  }
  let testcontainers: typeof import("testcontainers");
  try {
    testcontainers = await import("testcontainers");
  } catch (error) {
    // An optional dependency: installs that only ever run the model engine may leave it out.
    throw new EngineUnavailableError(
      "DOCKER_CLIENT_MISSING",
      `--engine docker needs the optional dependency testcontainers, which is not installed here (${firstLine(error)}); install it next to slamlab (npm install -g testcontainers@11 for a global slamlab, npm install testcontainers@11 in a project), or use --engine model`,
    );
  }
  const { getContainerRuntimeClient } = testcontainers;
  try {
    return await getContainerRuntimeClient();
  } catch (error) {
    throw unavailable(process.env.DOCKER_HOST ? `DOCKER_HOST=${process.env.DOCKER_HOST}` : "/var/run/docker.sock", firstLine(error));
  }
}

function unavailable(where: string, problem: string): EngineUnavailableError {
  return new EngineUnavailableError(
    "DOCKER_UNAVAILABLE",
    `--engine docker needs a Docker engine and none answers at ${where} (${problem}). Start one (on Debian: apt-get install docker.io && dockerd &, or bash ci/setup-docker.sh)${where.startsWith("DOCKER_HOST") ? ", fix DOCKER_HOST, or unset it to use /var/run/docker.sock" : ", or point DOCKER_HOST at a remote engine"}; the model engine needs none: --engine model`,
  );
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, 200);
}
