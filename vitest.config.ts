import { defineConfig } from "vitest/config";

/**
 * Test files that run Docker labs or containers, or clean them up by label.
 * Docker labs use fixed lab subnets, so two of these must never run at once;
 * the other files never touch Docker and can run beside them (`npm test`
 * runs the two projects side by side, ci/npm-test.mjs).
 */
export const DOCKER_FILES = [
  "test/engines/docker/**/*.test.ts",
  "test/differential/**/*.test.ts",
  "test/cli/firewall-import.test.ts",
  "test/firewall/admin-rulesets.test.ts",
  "test/tune/validate-docker.test.ts",
];

/** Files in both halves, each running its own part (SLAMLAB_TEST_HALF): the README's commands, docker and not. */
const SPLIT_FILES = ["test/readme-commands.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 600_000,
    pool: "forks",
    projects: [
      { extends: true, test: { name: "docker", include: [...DOCKER_FILES, ...SPLIT_FILES], fileParallelism: false, env: { SLAMLAB_TEST_HALF: "docker" } } },
      // One file at a time here too: several spawn worker threads or whole CLI runs, on the two cores the docker half shares.
      { extends: true, test: { name: "model", include: ["test/**/*.test.ts"], exclude: DOCKER_FILES, fileParallelism: false, env: { SLAMLAB_TEST_HALF: "model" } } },
    ],
  },
});
