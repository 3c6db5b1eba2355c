import { dockerRuntime } from "../../src/engines/docker/docker-runtime.js";

/** SLAMLAB_REQUIRE_DOCKER=1 (CI): a missing Docker engine is a failure, not a skip. */
export const requireDocker = process.env.SLAMLAB_REQUIRE_DOCKER === "1";

/** Whether a Docker engine answers; without one, says which tests are skipped and why (unless Docker is required). */
export async function dockerAvailable(skipping: string): Promise<boolean> {
  return dockerRuntime().then(
    () => true,
    (error: Error) => {
      if (!requireDocker) console.log(`skipping ${skipping}: ${error.message.split("\n")[0]}`);
      return false;
    },
  );
}
