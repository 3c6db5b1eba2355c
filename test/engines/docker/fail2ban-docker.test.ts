import { describe, expect, it } from "vitest";
import { compareEngines } from "../../../src/engines/compare-engines.js";
import { DockerEngine } from "../../../src/engines/docker/docker-engine.js";
import { loadScenario } from "../../../src/scenario/load-scenario.js";
import { checkExpectations } from "../../../src/verdict/expectations.js";
import { computeOutcomes } from "../../../src/verdict/outcomes.js";
import { ensureBuild } from "../../helpers/ensure-build.js";
import { dockerAvailable } from "../../helpers/docker-available.js";

const available = await dockerAvailable("fail2ban on the docker engine");

describe.runIf(available)("fail2ban on the docker engine", () => {
  it(
    "real fail2ban reads real Asterisk's log and bans each walking address through its ipset; the model bans the same addresses within its measured delay and judges every packet alike",
    async () => {
      ensureBuild();
      const scenario = loadScenario("test/fixtures/fail2ban/walkers.yaml", null);
      const { comparison, real, model, bans } = await compareEngines(scenario, new DockerEngine());
      const expectations = checkExpectations(scenario, computeOutcomes(real));
      expect(expectations.filter((expectation) => !expectation.passed), JSON.stringify(expectations)).toEqual([]);
      const walkers = scenario.traffic[0]!;
      const addresses = real.agentsBySource[walkers.name]!.length;
      expect(addresses).toBe(12);
      // Every address banned, once, by fail2ban's own decision (its log), and by the model.
      expect(real.fail2ban!.bans.map((ban) => ban.address).sort()).toEqual(model.fail2ban!.bans.map((ban) => ban.address).sort());
      expect(new Set(real.fail2ban!.bans.map((ban) => ban.address)).size).toBe(addresses);
      expect(bans!.modelOnly).toEqual([]);
      expect(bans!.kernelOnly).toEqual([]);
      // Real fail2ban polls its log: its ban came 0.79 s off the model's 0.45 s delay in a CI rehearsal (2026-12-07), within a second.
      for (const offset of bans!.offsetsUs) expect(Math.abs(offset)).toBeLessThan(1_000_000);
      expect(real.artifacts?.["fail2ban.log"]).toMatch(/NOTICE\s+\[asterisk\] Ban 198\.19\.40\.\d+/);
      // Each svwar request to an unknown extension is a line fail2ban reads; once banned, every packet is rejected by the jail's rule.
      const sent = real.verdicts.filter((verdict) => verdict.source === walkers.name && verdict.direction === "to-pbx");
      expect(real.asteriskLogLines).toBe(sent.filter((verdict) => verdict.verdict === "delivered").length);
      for (const ban of real.fail2ban!.bans) {
        const after = sent.filter((verdict) => verdict.srcAddr === ban.address && verdict.atUs > ban.atUs);
        expect(after.length).toBeGreaterThan(0);
        expect(after.every((verdict) => verdict.verdict === "dropped" && verdict.rule.comment === "fail2ban: banned by the asterisk jail")).toBe(true);
      }
      expect(comparison.paired).toBeGreaterThan(800);
      expect(comparison.semantic, JSON.stringify(comparison.semantic.slice(0, 3))).toEqual([]);
    },
    5 * 60_000,
  );

  it(
    "beside an nftables firewall: real fail2ban's nftables action fills the sets of its own table, whose reject rules the lab loaded; the model bans the same addresses and judges every packet alike",
    async () => {
      ensureBuild();
      const scenario = loadScenario("test/fixtures/fail2ban/walkers-nft.yaml", null);
      const { comparison, real, bans } = await compareEngines(scenario, new DockerEngine());
      expect(real.fail2ban!.sets).toEqual(["addr-set-asterisk-tcp", "addr-set-asterisk-udp"]);
      expect(new Set(real.fail2ban!.bans.map((ban) => ban.address)).size).toBe(12);
      expect(bans!.modelOnly).toEqual([]);
      expect(bans!.kernelOnly).toEqual([]);
      expect(real.artifacts?.["fail2ban jail.d/slamlab.local"]).toContain("banaction = nftables");
      // The kernel's set holds the banned addresses at the end, and its reject rule rejected them.
      expect(real.artifacts?.["nft list ruleset"]).toMatch(/set addr-set-asterisk-udp \{[\s\S]*elements = \{[^}]*198\.19\.40\./);
      const dropped = real.verdicts.filter((verdict) => verdict.direction === "to-pbx" && verdict.verdict === "dropped");
      expect(dropped.length).toBeGreaterThan(100);
      expect(dropped.every((verdict) => verdict.rule.chain === "inet f2b-table f2b-chain")).toBe(true);
      expect(comparison.semantic, JSON.stringify(comparison.semantic.slice(0, 3))).toEqual([]);
    },
    5 * 60_000,
  );
});
