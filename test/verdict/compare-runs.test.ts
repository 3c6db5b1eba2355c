import { describe, expect, it } from "vitest";
import { judgeRecorded } from "../../src/engines/model/judge-recorded.js";
import { runModel } from "../../src/engines/model/model-engine.js";
import { builtinScenarioDirectory } from "../../src/scenario/catalogue.js";
import { loadScenario } from "../../src/scenario/load-scenario.js";
import { compareRuns } from "../../src/verdict/compare-runs.js";

describe("comparing runs packet by packet (slamlab diff)", () => {
  it("the model judging a recorded run's packets at their recorded times decides as that run did", () => {
    for (const name of ["port-reuse", "broken-phone", "nat-office"]) {
      const run = runModel(loadScenario(`${builtinScenarioDirectory()}/${name}.yaml`, null), { keepPackets: true });
      const rejudged = judgeRecorded(run, "host");
      expect(rejudged.map((judgement) => (judgement.accepted ? "delivered" : "dropped"))).toEqual(run.verdicts.map((verdict) => verdict.verdict));
    }
  });

  it("a run compared with itself agrees on every packet", () => {
    const run = runModel(loadScenario(`${builtinScenarioDirectory()}/register-flood.yaml`, null), { keepPackets: true });
    const comparison = compareRuns(run, run, judgeRecorded(run, "host"));
    expect(comparison).toMatchObject({ paired: run.verdicts.length, agreeing: run.verdicts.length, unpaired: 0 });
    expect(comparison.semantic).toEqual([]);
  });

  it("tells a difference timing explains from one it does not", () => {
    const scenario = loadScenario(`${builtinScenarioDirectory()}/port-reuse.yaml`, null);
    const real = runModel(scenario, { keepPackets: true });
    // A "kernel" run whose 10th request came in just after the window: the model, given that time, agrees.
    const shifted = { ...real, verdicts: real.verdicts.map((verdict) => ({ ...verdict })) };
    const requests = shifted.verdicts.filter((verdict) => verdict.direction === "to-pbx");
    (requests[9] as { verdict: string }).verdict = "delivered";
    const comparison = compareRuns(real, shifted, judgeRecorded(real, "host"));
    expect(comparison.semantic).toHaveLength(1);
    expect(comparison.semantic[0]).toMatchObject({ position: 10, model: { verdict: "dropped" }, real: { verdict: "delivered" } });
    expect(comparison.timingOnly).toEqual([]);
  });
});
