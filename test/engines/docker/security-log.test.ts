import { describe, expect, it } from "vitest";
import { compareEngines } from "../../../src/engines/compare-engines.js";
import { DockerEngine } from "../../../src/engines/docker/docker-engine.js";
import { loadScenario } from "../../../src/scenario/load-scenario.js";
import { dockerAvailable } from "../../helpers/docker-available.js";
import { ensureBuild } from "../../helpers/ensure-build.js";

const available = await dockerAvailable("Asterisk's security log");

describe.runIf(available)("Asterisk's security log: real Asterisk 22's account of each source, and the PBX model's", () => {
  it(
    "counts the same security events per source on both engines: a walker's InvalidAccountID and ChallengeSent per request, a cracker's failed answers and its success, a phone's challenge and success, a wrong password's failures",
    async () => {
      ensureBuild();
      const scenario = loadScenario("test/fixtures/security/attackers-and-phones.yaml", null);
      const { real, model } = await compareEngines(scenario, new DockerEngine());
      const events = JSON.stringify({ real: real.securityEvents, model: model.securityEvents });
      expect(real.securityEvents?.["walker"], events).toEqual({ InvalidAccountID: 20, ChallengeSent: 20 });
      expect(real.securityEvents?.["cracker"], events).toEqual({ ChallengeSent: 1, ChallengeResponseFailed: 3, SuccessfulAuth: 1 });
      expect(real.securityEvents?.["phone"]).toMatchObject({ ChallengeSent: 1, SuccessfulAuth: 1 });
      expect(real.securityEvents?.["wrong-password"]?.["ChallengeResponseFailed"]).toBeGreaterThan(0);
      expect(model.securityEvents, events).toEqual(real.securityEvents);
      expect(real.artifacts?.["/var/log/asterisk/security.log (last 200 lines)"]).toMatch(/SecurityEvent="ChallengeResponseFailed"/);
    },
    5 * 60_000,
  );
});
