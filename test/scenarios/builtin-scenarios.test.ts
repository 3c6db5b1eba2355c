import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/cli/run-scenario.js";
import { ModelEngine } from "../../src/engines/model/model-engine.js";
import { listBuiltinScenarios } from "../../src/scenario/catalogue.js";
import { loadScenario } from "../../src/scenario/load-scenario.js";

const engine = new ModelEngine();
const runs = listBuiltinScenarios().flatMap((entry) =>
  [null, ...entry.variants].map((variant) => ({ entry, variant, label: variant ? `${entry.name} [${variant}]` : entry.name })),
);

describe("built-in scenarios on the model engine", () => {
  it("the catalogue has every scenario the operators asked for", () => {
    const names = listBuiltinScenarios().map((entry) => entry.name);
    for (const wanted of ["nat-office", "register-flood", "broken-phone", "roaming-user", "blf-subscribe", "distributed-scan", "port-reuse"]) {
      expect(names).toContain(wanted);
    }
  });

  it.each(runs)("$label meets every expectation", async ({ entry, variant }) => {
    const report = await runScenario(loadScenario(entry.file, variant), engine);
    const failures = report.expectations.filter((expectation) => !expectation.passed);
    expect(failures).toEqual([]);
    expect(report.expectations.length).toBeGreaterThan(0);
  });

  it("the same scenario and seed give the same verdicts", async () => {
    const first = await runScenario(loadScenario(runs[0]!.entry.file, null), engine);
    const second = await runScenario(loadScenario(runs[0]!.entry.file, null), engine);
    expect(second.result.verdicts).toEqual(first.result.verdicts);
  });
});
