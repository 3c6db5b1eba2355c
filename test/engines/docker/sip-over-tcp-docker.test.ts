import { describe, expect, it } from "vitest";
import { compareEngines } from "../../../src/engines/compare-engines.js";
import { DockerEngine } from "../../../src/engines/docker/docker-engine.js";
import { loadScenario } from "../../../src/scenario/load-scenario.js";
import { checkExpectations } from "../../../src/verdict/expectations.js";
import { computeOutcomes } from "../../../src/verdict/outcomes.js";
import type { RunResult } from "../../../src/verdict/run-result.js";
import { dockerAvailable } from "../../helpers/docker-available.js";
import { ensureBuild } from "../../helpers/ensure-build.js";

const available = await dockerAvailable("SIP over TCP against real Asterisk");

/** The requests Asterisk handled from a source, by its security log (one challenge per REGISTER). */
const handled = (result: RunResult, source: string) => result.securityEvents?.[source]?.ChallengeSent ?? 0;

describe.runIf(available)("SIP over TCP in the lab", () => {
  it(
    "real Asterisk answers both floods on their connections; the whole one is blocked on its 10th REGISTER, the one cut inside its method never, on both engines, which send the same segments and judge them alike",
    async () => {
      ensureBuild();
      const scenario = loadScenario("test/fixtures/tcp/split-register.yaml", null);
      const { real, model, comparison } = await compareEngines(scenario, new DockerEngine());
      for (const result of [real, model]) {
        const failed = checkExpectations(scenario, computeOutcomes(result)).filter((check) => !check.passed);
        expect(failed, `${result.engine}: ${JSON.stringify(failed)}`).toEqual([]);
        // Each a handshake first: SYN in, SYN/ACK out, ACK in, all TCP to and from the SIP port.
        for (const source of ["whole", "split"]) {
          const first = result.verdicts.filter((verdict) => verdict.source === source).slice(0, 3);
          expect(first.map((verdict) => [verdict.direction, verdict.protocol, verdict.sipMethod]), `${result.engine} ${source}`).toEqual([
            ["to-pbx", "tcp", null],
            ["from-pbx", "tcp", null],
            ["to-pbx", "tcp", null],
          ]);
        }
        expect(result.verdicts.filter((verdict) => verdict.source === "split" && verdict.sipMethod === "REGISTER"), result.engine).toEqual([]);
      }
      // The PBX saw the same requests: 9 before the block, all 40 of the split flood (10 a second for 4 s).
      expect([handled(real, "whole"), handled(real, "split")]).toEqual([9, 40]);
      expect([handled(model, "whole"), handled(model, "split")]).toEqual([9, 40]);
      expect(comparison.semantic).toEqual([]);
      // Packet for packet: the handshakes, the ACKs the answers carry or not, the blocked flood's tail probe and RTOs (243 here).
      expect(comparison.paired).toBeGreaterThan(230);
      expect(comparison.unpaired).toBeLessThanOrEqual(4);
    },
    5 * 60_000,
  );

  it(
    "a policy that counts every TCP write (PSH) blocks the cut flood too, sooner, on both engines alike",
    async () => {
      ensureBuild();
      const scenario = loadScenario("test/fixtures/tcp/split-register.yaml", "writes");
      const { real, model, comparison } = await compareEngines(scenario, new DockerEngine());
      for (const result of [real, model]) {
        const failed = checkExpectations(scenario, computeOutcomes(result)).filter((check) => !check.passed);
        expect(failed, `${result.engine}: ${JSON.stringify(failed)}`).toEqual([]);
        // Nine whole REGISTERs, or four cut in two (the 10th write is the 5th request's first piece).
        expect([handled(result, "whole"), handled(result, "split")], result.engine).toEqual([9, 4]);
      }
      expect(comparison.semantic).toEqual([]);
      expect(comparison.paired).toBeGreaterThan(70);
    },
    5 * 60_000,
  );
});
