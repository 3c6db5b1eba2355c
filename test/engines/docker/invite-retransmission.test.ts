import { describe, expect, it } from "vitest";
import { compareEngines } from "../../../src/engines/compare-engines.js";
import { DockerEngine } from "../../../src/engines/docker/docker-engine.js";
import { loadScenario } from "../../../src/scenario/load-scenario.js";
import type { RunResult } from "../../../src/verdict/run-result.js";
import { dockerAvailable } from "../../helpers/docker-available.js";
import { ensureBuild } from "../../helpers/ensure-build.js";

const available = await dockerAvailable("Asterisk's retransmitted answers to an INVITE whose ACK never comes");

/** The PBX's answers to the caller, by status, in order. */
const answers = (result: RunResult) => result.verdicts.filter((verdict) => verdict.direction === "from-pbx").map((verdict) => verdict.sipMethod);

describe.runIf(available)("an INVITE whose ACK the firewall drops", () => {
  it(
    "gets the dialplan's 404 again on Timer G from real Asterisk as from the model (2.5, 3, 4, 6 and 10 s into a 12 s run), and each 401 before it once",
    async () => {
      ensureBuild();
      const { real, model } = await compareEngines(loadScenario("test/fixtures/invite/no-ack.yaml", null), new DockerEngine());
      const expected = ["401", "401", "401", "404", "404", "404", "404", "404"];
      expect(answers(model)).toEqual(expected);
      expect(answers(real)).toEqual(expected);
      expect(model.verdicts.filter((verdict) => verdict.sipMethod === "404").map((verdict) => verdict.atUs / 1e6 - 2.5)).toEqual([0, 0.5, 1.5, 3.5, 7.5].map((at) => expect.closeTo(at, 2)));
    },
    5 * 60_000,
  );
});
