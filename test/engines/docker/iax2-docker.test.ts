import { describe, expect, it } from "vitest";
import { compareEngines } from "../../../src/engines/compare-engines.js";
import { DockerEngine } from "../../../src/engines/docker/docker-engine.js";
import { loadScenario } from "../../../src/scenario/load-scenario.js";
import { checkExpectations } from "../../../src/verdict/expectations.js";
import { computeOutcomes } from "../../../src/verdict/outcomes.js";
import { ensureBuild } from "../../helpers/ensure-build.js";
import { dockerAvailable } from "../../helpers/docker-available.js";

const available = await dockerAvailable("IAX2 against real chan_iax2");

describe.runIf(available)("IAX2 on the docker engine: real Asterisk 22's chan_iax2 configured from the accounts", () => {
  it(
    "IAX2 phones behind a real NAT register; a u32 rule counting REGREQs stops the guesser before its guess, and the model judges every packet alike",
    async () => {
      ensureBuild();
      const scenario = loadScenario("test/fixtures/iax2/office-and-guesser.yaml", null);
      const { comparison, real, model } = await compareEngines(scenario, new DockerEngine());
      const expectations = checkExpectations(scenario, computeOutcomes(real));
      expect(expectations.filter((expectation) => !expectation.passed), JSON.stringify(expectations)).toEqual([]);
      expect(real.artifacts?.["iax.conf"]).toContain("auth=md5");
      // Each wrong guess is a line fail2ban's filter reads, written by real chan_iax2 as by the model.
      expect(real.asteriskLogLines).toBe(10);
      expect(model.asteriskLogLines).toBe(real.asteriskLogLines);
      // Every frame real Asterisk sent back (CALLTOKEN, REGAUTH, ACK, REGACK, REGREJ) found its agent, and the model sent the same.
      expect(real.verdicts.filter((verdict) => verdict.direction === "from-pbx").length).toBe(52);
      expect(comparison.paired).toBeGreaterThan(100);
      expect(comparison.unpaired).toBe(0);
      expect(comparison.semantic, JSON.stringify(comparison.semantic.slice(0, 3))).toEqual([]);
    },
    5 * 60_000,
  );

  it(
    "unguarded, real chan_iax2 gives the guesser the weak secret at its 31st guess, as the model's registrar does",
    async () => {
      ensureBuild();
      const scenario = loadScenario("test/fixtures/iax2/office-and-guesser.yaml", "unguarded");
      const { comparison, real, model } = await compareEngines(scenario, new DockerEngine());
      const found = (events: typeof real.events) => events.filter((event) => event.kind === "password-found").map((event) => [event.account, event.detail]);
      expect(found(real.events)).toEqual([["230", 'IAX2 password "25" at guess 31 (REGACK)']]);
      expect(found(model.events)).toEqual(found(real.events));
      expect(comparison.unpaired).toBe(0);
      expect(comparison.semantic).toEqual([]);
    },
    5 * 60_000,
  );

  it(
    "a captured IAX2 guesser replayed: real chan_iax2 refuses the capture's stale call tokens as the model's registrar does, and a policy counting IAX2 blocks it at its 10th REGREQ on both engines",
    async () => {
      ensureBuild();
      const scenario = loadScenario("test/fixtures/iax2/replay.yaml", null);
      const { comparison, real } = await compareEngines(scenario, new DockerEngine());
      const expectations = checkExpectations(scenario, computeOutcomes(real));
      expect(expectations.filter((expectation) => !expectation.passed), JSON.stringify(expectations)).toEqual([]);
      expect(comparison.unpaired).toBe(0);
      expect(comparison.semantic).toEqual([]);
    },
    5 * 60_000,
  );

  it(
    "a peer walker leaves its calls after REGAUTH: real chan_iax2 resends the REGAUTH and keeps each call alive with LAGRQs and a PING until it dies, and so does the model, packet for packet",
    async () => {
      ensureBuild();
      const scenario = loadScenario("test/fixtures/iax2/walker.yaml", null);
      const { comparison, real } = await compareEngines(scenario, new DockerEngine());
      const fromPbx = real.verdicts.filter((verdict) => verdict.direction === "from-pbx").length;
      // Four calls: a CALLTOKEN each, and over 30 s each call's REGAUTH (five sends), LAGRQs at 10 and 20 s and a PING at 21 s with their resends.
      expect(fromPbx).toBeGreaterThan(40);
      expect(comparison.paired).toBe(real.verdicts.length);
      expect(comparison.unpaired).toBe(0);
      expect(comparison.semantic).toEqual([]);
    },
    5 * 60_000,
  );
});
