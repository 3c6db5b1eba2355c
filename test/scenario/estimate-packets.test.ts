import { describe, expect, it } from "vitest";
import { estimatePackets } from "../../src/scenario/estimate-packets.js";
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
