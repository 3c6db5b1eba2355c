import { describe, expect, it } from "vitest";
import { DockerEngine } from "../../../src/engines/docker/docker-engine.js";
import { runModel } from "../../../src/engines/model/model-engine.js";
import { loadScenario } from "../../../src/scenario/load-scenario.js";
import { computeOutcomes } from "../../../src/verdict/outcomes.js";
import { ensureBuild } from "../../helpers/ensure-build.js";
import { dockerAvailable } from "../../helpers/docker-available.js";

const available = await dockerAvailable("the real SIPp office");

describe.runIf(available)("an office registered by one SIPp process", () => {
  it(
    "real SIPp (an injection file of 20 accounts, 10 calls a second) and the model's sipp-office get the same 4 of 20 registered behind the default policy, packet counts within a retransmission",
    async () => {
      ensureBuild();
      const real = await new DockerEngine().run(loadScenario("test/fixtures/sipp/office-tool.yaml", null));
      const [office] = computeOutcomes(real);
      // Each call is its account: the lab tells them apart by the user their messages name.
      expect(office!.agents).toBe(20);
      expect(new Set(real.verdicts.filter((verdict) => verdict.direction === "to-pbx").map((verdict) => verdict.agent)).size).toBe(20);
      expect(real.events.filter((event) => event.kind === "registered").map((event) => event.account)).toEqual(["200", "201", "202", "203"]);
      expect(real.artifacts).toHaveProperty(["sipp output (sipp-register)"]);
      const model = computeOutcomes(runModel(loadScenario("test/fixtures/sipp/office-model.yaml", null)))[0]!;
      expect(model.registeredAgents).toBe(office!.registeredAgents);
      expect(model.delivered).toBe(office!.delivered);
      expect(Math.abs(model.sent - office!.sent)).toBeLessThanOrEqual(3);
      expect(model.packetsToBlock).toBe(office!.packetsToBlock);
    },
    10 * 60_000,
  );
});
