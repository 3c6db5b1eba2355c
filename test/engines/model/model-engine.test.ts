import { describe, expect, it } from "vitest";
import { runModel } from "../../../src/engines/model/model-engine.js";
import { computeOutcomes } from "../../../src/verdict/outcomes.js";
import { policySchema } from "../../../src/firewall/policy.js";
import { resolveScenarioRef } from "../../../src/scenario/catalogue.js";
import { loadScenario } from "../../../src/scenario/load-scenario.js";
import type { Scenario } from "../../../src/scenario/scenario.js";
import { scenarioSchema } from "../../../src/scenario/schema.js";

/** A scenario built in code: the schema fills defaults, the firewall is a policy. */
function scenarioOf(document: Record<string, unknown>, policy: Record<string, unknown> = {}): Scenario {
  const parsed = scenarioSchema.parse({ firewall: { policy: "default" }, ...document });
  return {
    ...parsed,
    variant: null,
    file: "<test>",
    firewall: { kind: "policy", policy: policySchema.parse(policy), policyName: "test" },
  };
}

const office = {
  name: "office",
  description: "office behind NAT",
  durationSeconds: 30,
  pbx: { accounts: [{ users: "200-219", password: "pw-{user}" }] },
  hosts: { office: { kind: "nat", public: "198.18.10.1", lan: "192.0.2.0/24" } },
  traffic: [{ name: "phones", kind: "phones", host: "office", count: 20, accounts: "200-219" }],
};

describe("model engine", () => {
  it("sends office phones through one masquerading address: the first keeps port 5060, the rest get other ports", () => {
    const result = runModel(scenarioOf(office, { allowSites: ["198.18.10.1/32"] }));
    const requests = result.verdicts.filter((verdict) => verdict.direction === "to-pbx");
    expect(new Set(requests.map((verdict) => verdict.srcAddr))).toEqual(new Set(["198.18.10.1"]));
    const portsByAgent = new Map<string, Set<number>>();
    for (const verdict of requests) portsByAgent.set(verdict.agent, (portsByAgent.get(verdict.agent) ?? new Set()).add(verdict.srcPort));
    expect(portsByAgent.size).toBe(20);
    const ports = [...portsByAgent.values()].map((set) => [...set]);
    expect(ports.every((list) => list.length === 1)).toBe(true);
    expect(new Set(ports.flat()).size).toBe(20);
    expect(ports.flat()).toContain(5060);
  });

  it("routes the PBX's replies back to the right phone behind the NAT, so all of them register", () => {
    const result = runModel(scenarioOf(office, { allowSites: ["198.18.10.1/32"] }));
    const registered = new Set(result.events.filter((event) => event.kind === "registered").map((event) => event.agent));
    expect(registered.size).toBe(20);
    expect(result.verdicts.some((verdict) => verdict.direction === "from-pbx" && verdict.sipMethod === "200")).toBe(true);
  });

  it("judges replies in the OUTPUT chain as conntrack ESTABLISHED", () => {
    const result = runModel(scenarioOf(office, { allowSites: ["198.18.10.1/32"] }));
    const replies = result.verdicts.filter((verdict) => verdict.direction === "from-pbx");
    expect(replies.length).toBeGreaterThan(0);
    expect(replies.every((verdict) => verdict.ctState === "ESTABLISHED" && verdict.rule.chain === "OUTPUT")).toBe(true);
  });

  it("without the allowlist the office address is blocked on its 10th REGISTER in 60 s", () => {
    const result = runModel(scenarioOf(office));
    const requests = result.verdicts.filter((verdict) => verdict.direction === "to-pbx");
    const firstDrop = requests.findIndex((verdict) => verdict.verdict === "dropped");
    expect(firstDrop).toBe(9);
    expect(requests.slice(0, 9).every((verdict) => verdict.verdict === "delivered")).toBe(true);
  });

  it("counts time in jiffies: the verdicts carry the microsecond they happened and stay inside the run", () => {
    const result = runModel(scenarioOf(office, { allowSites: ["198.18.10.1/32"] }));
    const times = result.verdicts.map((verdict) => verdict.atUs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(Math.max(...times)).toBeLessThanOrEqual(30_000_000);
  });

  it("sends a phone's answer to Asterisk as long after its request as the lab does (bench/reply-timing.ts p50s)", () => {
    const result = runModel(loadScenario(resolveScenarioRef("blf-subscribe"), null));
    const requests = result.verdicts.filter((verdict) => verdict.direction === "to-pbx" && (verdict.sipMethod === "REGISTER" || verdict.sipMethod === "SUBSCRIBE"));
    const [register, registerWithCredentials, firstSubscribe, subscribeWithCredentials] = requests.map((verdict) => verdict.atUs);
    expect(requests.slice(0, 4).map((verdict) => verdict.sipMethod)).toEqual(["REGISTER", "REGISTER", "SUBSCRIBE", "SUBSCRIBE"]);
    // 401 to a REGISTER, then the 200 that starts the BLF burst, then 401 to a SUBSCRIBE.
    expect(registerWithCredentials! - register!).toBe(1000);
    expect(firstSubscribe! - registerWithCredentials!).toBe(1350);
    expect(subscribeWithCredentials! - firstSubscribe!).toBe(700);
  });
});

describe("model runs that keep no verdicts", () => {
  it.each(["nat-office", "distributed-scan", "register-flood", "port-reuse"])("%s: outcomes counted as the run goes equal those from kept verdicts, and no verdict is held", (name) => {
    const scenario = loadScenario(resolveScenarioRef(name), null);
    const kept = runModel(scenario);
    const streamed = runModel(scenario, { keepVerdicts: false });
    expect(streamed.verdicts).toEqual([]);
    expect(streamed.packetsJudged).toBe(kept.verdicts.length);
    expect(computeOutcomes(streamed)).toEqual(computeOutcomes(kept));
  });
});
