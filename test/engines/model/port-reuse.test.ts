import { describe, expect, it } from "vitest";
import { runModel } from "../../../src/engines/model/model-engine.js";
import { builtinScenarioDirectory } from "../../../src/scenario/catalogue.js";
import { loadScenario } from "../../../src/scenario/load-scenario.js";

/**
 * The port-reuse pitfall: an attacker that keeps its source port is
 * conntrack ESTABLISHED after the PBX's first 401. A ruleset that accepts
 * ESTABLISHED before counting never counts it again.
 */
describe("an attacker keeping one source port", () => {
  const file = `${builtinScenarioDirectory()}/port-reuse.yaml`;

  it("gets through a naive ruleset that accepts ESTABLISHED first", () => {
    const result = runModel(loadScenario(file, "naive-established-first"));
    const attack = result.verdicts.filter((v) => v.direction === "to-pbx");
    expect(attack.every((v) => v.verdict === "delivered")).toBe(true);
    const established = attack.filter((v) => v.ctState === "ESTABLISHED");
    expect(established.length).toBe(attack.length - 1);
    expect(established.every((v) => v.rule.chain === "INPUT" && v.rule.index === 2)).toBe(true);
  });

  it("is blocked by the generated ruleset on its 10th REGISTER although its flow is ESTABLISHED", () => {
    const result = runModel(loadScenario(file, null));
    const attack = result.verdicts.filter((v) => v.direction === "to-pbx");
    expect(attack.findIndex((v) => v.verdict === "dropped")).toBe(9);
    expect(attack[9]!.ctState).toBe("ESTABLISHED");
    expect(attack.slice(9).every((v) => v.verdict === "dropped")).toBe(true);
  });
});
