import { describe, expect, it } from "vitest";
import { checkPacketBudget, estimatePackets } from "../../src/scenario/estimate-packets.js";
import { acceptAll, scenarioOf } from "../helpers/scenario.js";

const pbx = { accounts: [{ users: "200-299", password: "pw-{user}" }] };
const hosts = { scanner: { kind: "addresses", addresses: ["198.18.66.6"] } };
const estimate = (traffic: Record<string, unknown>, durationSeconds = 600) =>
  estimatePackets(scenarioOf({ name: "t", description: "t", durationSeconds, pbx, hosts, traffic: [{ name: "tool", kind: "tool", host: "scanner", ...traffic }] }, { rulesetText: acceptAll })).bySource[0]!;

describe("the packet estimate of real tools (their twins in the model)", () => {
  it("counts svcrack and svwar at sipvicious's pace, with answers, for as long as the run lasts after their start", () => {
    expect(estimate({ tool: "svcrack", target: "200", startSeconds: 100 })).toMatchObject({ packets: 2 * 185 * 500, how: "svcrack at 185 pps x 500 s x 2 with answers" });
    expect(estimate({ tool: "svwar", target: "200-299" }).packets).toBe(2 * 185 * 600);
  });

  it("counts a SIPp office by its calls and one SIPp registration as one call", () => {
    expect(estimate({ tool: "sipp-register", target: "200-219" }).packets).toBe(20 * 40);
    expect(estimate({ tool: "sipp-register", target: "200-219", count: 5 }).packets).toBe(5 * 40);
    expect(estimate({ tool: "sipp-register", target: "200", password: "pw-200" }).packets).toBe(40);
  });
});

describe("the packet budget", () => {
  const flood = (ratePps: number, seconds: number) =>
    scenarioOf({ name: "t", description: "t", durationSeconds: seconds, pbx, hosts, traffic: [{ name: "flood", kind: "register-flood", host: "scanner", ratePps, durationSeconds: seconds }] }, { rulesetText: acceptAll });

  it("lets a streamed run of 60 million packets go (its memory is its state) and refuses it kept per packet (18 GB)", () => {
    expect(checkPacketBudget(flood(100_000, 300), undefined, false).packets).toBe(60_000_000);
    expect(() => checkPacketBudget(flood(100_000, 300), undefined, true)).toThrow(/about 60,000,000 packets .*over the budget of 5,000,000 \(about 1\.5 GB of memory/);
  });

  it("refuses a streamed run that would take hours, saying how long", () => {
    expect(() => checkPacketBudget(flood(100_000, 3600), undefined, false)).toThrow(/about 720,000,000 packets .*over the budget of 200,000,000 \(about 56 minutes at the model's 60,000 packets a second\).*--max-packets 720000000 \(about 3\.3 hours\)/);
  });

  it("takes --max-packets as the budget either way", () => {
    expect(() => checkPacketBudget(flood(1_000, 10), 100, false)).toThrow(/over the budget of 100 /);
    expect(checkPacketBudget(flood(1_000, 10), 100_000, true).packets).toBe(20_000);
  });
});
