import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    pool: "forks",
    // Docker labs use fixed lab subnets, so two test files must not run labs at once.
    fileParallelism: false,
  },
});
