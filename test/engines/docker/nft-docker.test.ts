import { describe, expect, it } from "vitest";
import { compareEngines } from "../../../src/engines/compare-engines.js";
import { DockerEngine } from "../../../src/engines/docker/docker-engine.js";
import { loadScenario } from "../../../src/scenario/load-scenario.js";
import { checkExpectations } from "../../../src/verdict/expectations.js";
import { computeOutcomes } from "../../../src/verdict/outcomes.js";
import { ensureBuild } from "../../helpers/ensure-build.js";
import { dockerAvailable } from "../../helpers/docker-available.js";

/**
 * An nftables ruleset on the docker engine: loaded with nft -f in the lab,
 * each base chain's decision logged by nft itself to the verdict group, and
 * judged packet by packet against the model.
 */
const available = await dockerAvailable("the nftables docker checks");

describe.runIf(available)("nftables on the docker engine", () => {
  it(
    "two base chains on input, a regular chain, a meter and a block set: the expectations hold in the kernel, and the model differs in no packet beyond timing",
    async () => {
      ensureBuild();
      const scenario = loadScenario("test/fixtures/nftables/two-chains.yaml", null);
      const { comparison, real } = await compareEngines(scenario, new DockerEngine());
      const expectations = checkExpectations(scenario, computeOutcomes(real));
      expect(expectations.filter((expectation) => !expectation.passed), JSON.stringify(expectations)).toEqual([]);
      const chains = new Set(real.verdicts.filter((verdict) => verdict.verdict === "dropped").map((verdict) => `${verdict.rule.chain}:${verdict.rule.index}`));
      expect([...chains].sort()).toEqual(["inet filter input:1", "inet filter input:2", "ip guard count_register:1"]);
      // A packet both base chains accepted is one verdict, named by the later chain.
      expect(real.verdicts.filter((verdict) => verdict.direction === "to-pbx" && verdict.verdict === "delivered").every((verdict) => verdict.rule.chain === "inet filter input")).toBe(true);
      expect(comparison.paired).toBeGreaterThan(250);
      expect(comparison.semantic, JSON.stringify(comparison.semantic.slice(0, 3))).toEqual([]);
      // The report keeps the ruleset as the kernel holds it at the end, counters and set contents with it.
      expect(real.artifacts?.["nft list ruleset"]).toMatch(/set rate \{[\s\S]*elements = \{[^}]*198\.18\.77\.7 limit rate over 3\/second burst 12 packets/);
    },
    5 * 60_000,
  );

  it(
    "verdict maps (named and in the rule, by source, state and port, with jump and goto) decide in the kernel as in the model, each element's verdict logged as its rule's",
    async () => {
      ensureBuild();
      const scenario = loadScenario("test/fixtures/nftables/verdict-maps.yaml", null);
      const { comparison, real } = await compareEngines(scenario, new DockerEngine());
      const expectations = checkExpectations(scenario, computeOutcomes(real));
      expect(expectations.filter((expectation) => !expectation.passed), JSON.stringify(expectations)).toEqual([]);
      const dropped = new Set(real.verdicts.filter((verdict) => verdict.verdict === "dropped").map((verdict) => `${verdict.rule.chain}:${verdict.rule.index}`));
      expect([...dropped].sort()).toEqual(["inet filter count_register:1", "inet filter strict:1", "inet filter strict:2"]);
      // The office is accepted by the source map's element: the rule that holds the map names the verdict.
      const office = real.verdicts.filter((verdict) => verdict.source === "phones" && verdict.direction === "to-pbx");
      expect(office.length).toBeGreaterThan(5);
      expect(office.every((verdict) => verdict.verdict === "delivered" && verdict.rule.chain === "inet filter input" && verdict.rule.index === 2)).toBe(true);
      expect(comparison.paired).toBeGreaterThan(200);
      expect(comparison.semantic, JSON.stringify(comparison.semantic.slice(0, 3))).toEqual([]);
    },
    5 * 60_000,
  );

  it(
    "a netdev ingress chain drops before the IP stack and its verdicts join their packets (NFLOG's netdev family), as in the model",
    async () => {
      ensureBuild();
      const scenario = loadScenario("test/fixtures/nftables/ingress.yaml", null);
      const { comparison, real } = await compareEngines(scenario, new DockerEngine());
      const expectations = checkExpectations(scenario, computeOutcomes(real));
      expect(expectations.filter((expectation) => !expectation.passed), JSON.stringify(expectations)).toEqual([]);
      const edge = real.verdicts.filter((verdict) => verdict.source === "edge" && verdict.direction === "to-pbx");
      expect(edge.length).toBeGreaterThan(15);
      expect(edge.every((verdict) => verdict.verdict === "dropped" && verdict.rule.chain === "netdev edge ingress" && verdict.rule.index === 2)).toBe(true);
      expect(comparison.unpaired).toBe(0);
      expect(comparison.semantic, JSON.stringify(comparison.semantic.slice(0, 3))).toEqual([]);
    },
    5 * 60_000,
  );

  it(
    "concatenated keys and ct count per source judge as in the model: a scanner changing its port is dropped at its fourth flow, by the meter's rule",
    async () => {
      ensureBuild();
      const scenario = loadScenario("test/fixtures/nftables/ct-count.yaml", null);
      const { comparison, real } = await compareEngines(scenario, new DockerEngine());
      const expectations = checkExpectations(scenario, computeOutcomes(real));
      expect(expectations.filter((expectation) => !expectation.passed), JSON.stringify(expectations)).toEqual([]);
      const dropped = real.verdicts.filter((verdict) => verdict.source === "scan" && verdict.direction === "to-pbx" && verdict.verdict === "dropped");
      expect(dropped.length).toBeGreaterThan(10);
      expect(dropped.every((verdict) => verdict.rule.chain === "inet filter input" && verdict.rule.index === 3)).toBe(true);
      expect(comparison.unpaired).toBe(0);
      expect(comparison.semantic, JSON.stringify(comparison.semantic.slice(0, 3))).toEqual([]);
    },
    5 * 60_000,
  );

  it(
    "an iptables packet the filter accepted and the security table then dropped is one verdict, the drop",
    async () => {
      ensureBuild();
      const scenario = loadScenario("test/fixtures/nftables/late-drop.yaml", null);
      const { comparison, real } = await compareEngines(scenario, new DockerEngine());
      const flood = real.verdicts.filter((verdict) => verdict.source === "svwar" && verdict.direction === "to-pbx");
      expect(flood.length).toBeGreaterThan(20);
      expect(flood.every((verdict) => verdict.verdict === "dropped" && verdict.rule.chain === "security:INPUT" && verdict.rule.index === 1)).toBe(true);
      expect(comparison.unpaired).toBe(0);
      expect(comparison.semantic).toEqual([]);
    },
    5 * 60_000,
  );
});
