import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

/** The example pipelines in ci/examples, linted by a real YAML linter (yamllint) and read for what they promise. */
const root = join(import.meta.dirname, "..", "..");
const examples = join(root, "ci", "examples");
const files = readdirSync(examples).filter((name) => name.endsWith(".yml"));
const yamllint = spawnSync("yamllint", ["--version"], { encoding: "utf8" }).status === 0;
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
if (!yamllint && !required) console.log("skipping the yamllint check of ci/examples: apt-get install yamllint");
const read = (name: string) => parse(readFileSync(join(examples, name), "utf8")) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("example CI pipelines", () => {
  it.runIf(yamllint || required).each(files)("%s passes yamllint", (name) => {
    const result = spawnSync("yamllint", ["-d", "{extends: default, rules: {line-length: disable, document-start: disable, truthy: disable}}", join(examples, name)], { encoding: "utf8" });
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });

  it("GitHub Actions: runs slamlab test with JUnit, publishes the report, and merges a tune shard matrix", () => {
    const workflow = read("github-actions.yml");
    const scenarioSteps = JSON.stringify(workflow.jobs.scenarios.steps);
    expect(scenarioSteps).toContain("slamlab test scenarios/ --quiet --junit out/junit.xml");
    expect(scenarioSteps).toContain("out/junit.xml");
    expect(workflow.jobs.tune.strategy.matrix.shard).toEqual([1, 2, 3, 4]);
    expect(JSON.stringify(workflow.jobs.tune.steps)).toContain("--shard ${{ matrix.shard }}/4");
    expect(workflow.jobs["tune-merge"].needs).toBe("tune");
    expect(JSON.stringify(workflow.jobs["tune-merge"].steps)).toContain("slamlab tune merge tune-*/results.json");
  });

  it("GitLab CI: the JUnit report as a test report, a parallel sweep by CI_NODE_INDEX, then the merge", () => {
    const pipeline = read("gitlab-ci.yml");
    expect(pipeline.scenarios.artifacts.reports.junit).toBe("out/junit.xml");
    expect(pipeline.tune.parallel).toBe(4);
    expect(pipeline.tune.script.join("\n")).toContain('--shard "$CI_NODE_INDEX/$CI_NODE_TOTAL"');
    expect(pipeline["tune-merge"].script.join("\n")).toContain("slamlab tune merge");
  });

  it("Kubernetes: an Indexed Job whose completion index is the shard", () => {
    const job = read("kubernetes-tune-job.yml");
    expect(job.spec.completionMode).toBe("Indexed");
    expect(job.spec.template.spec.containers[0].args[0]).toContain("--shard $((JOB_COMPLETION_INDEX + 1))/8");
  });
});
