import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "../src/cli/run-scenario.js";
import { ModelEngine } from "../src/engines/model/model-engine.js";
import { loadScenario } from "../src/scenario/load-scenario.js";
import { scratchDirectory } from "./helpers/scratch-directory.js";

const readme = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");

describe("the README stays true", () => {
  it("starts with the two commands: simulate nat-office and npm test", () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)![1]!;
    expect(firstBlock).toMatch(/npx slamlab simulate --scenario nat-office/);
    expect(firstBlock).toMatch(/^npm test/m);
  });

  it("its example scenario loads and passes, variant included", async () => {
    const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)![1]!;
    const file = join(scratchDirectory("readme"), "my-office.yaml");
    writeFileSync(file, yaml);
    for (const variant of [null, "no-allowlist"]) {
      const report = await runScenario(loadScenario(file, variant), new ModelEngine());
      expect(report.expectations.filter((expectation) => !expectation.passed)).toEqual([]);
    }
  });
});
