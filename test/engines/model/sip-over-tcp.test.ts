import { describe, expect, it } from "vitest";
import { ModelEngine, runModel } from "../../../src/engines/model/model-engine.js";
import { runScenario } from "../../../src/cli/run-scenario.js";
import { policySchema } from "../../../src/firewall/policy.js";
import { scenarioOf, streamFlood } from "../../helpers/scenario.js";

const tcpFlood = (flood: Record<string, unknown> = {}) => streamFlood("tcp", flood);

const reachedPbx = (result: ReturnType<typeof runModel>) => result.securityEvents?.flood?.ChallengeSent ?? 0;

describe("SIP over TCP on the model engine", () => {
  it("a flood keeps one connection: one handshake, then each REGISTER in a segment the PBX answers on it", () => {
    const result = runModel(tcpFlood(), {}, new Map());
    const toPbx = result.verdicts.filter((verdict) => verdict.direction === "to-pbx");
    expect(toPbx.every((verdict) => verdict.protocol === "tcp" && verdict.dstPort === 5060 && verdict.srcPort === 40000)).toBe(true);
    expect(result.verdicts.filter((verdict) => verdict.ctState === "NEW")).toHaveLength(1);
    expect(result.verdicts.filter((verdict) => verdict.direction === "from-pbx" && verdict.sipMethod === "401").length).toBeGreaterThan(0);
    // The default policy counts REGISTERs per source: the 10th within 60 s blocks it, over TCP as over UDP.
    expect(reachedPbx(result)).toBeLessThan(10);
    // Then TCP backs off: a tail probe, the oldest again at a doubling RTO, and new requests wait (as the lab's kernel does).
    const dropped = toPbx.filter((verdict) => verdict.verdict === "dropped").map((verdict) => verdict.atUs);
    expect(dropped.length).toBeGreaterThan(4);
    expect(dropped.length).toBeLessThan(12);
    const [first, second, third] = dropped.slice(-3);
    expect((third! - second!) / (second! - first!)).toBe(2);
  });

  it("a REGISTER cut inside its method name passes a per-packet method match untouched: all 100 reach the PBX", () => {
    const result = runModel(tcpFlood({ splitMethod: true }), {}, new Map());
    expect(reachedPbx(result)).toBe(100);
    expect(result.verdicts.filter((verdict) => verdict.verdict === "dropped")).toEqual([]);
    expect(result.verdicts.filter((verdict) => verdict.sipMethod === "REGISTER")).toEqual([]);
  });

  it("a policy counting every TCP write (PSH) blocks the cut flood: each request is two writes", () => {
    const scenario = tcpFlood({ splitMethod: true });
    const writes = { ...scenario, firewall: { kind: "policy" as const, policy: policySchema.parse({ sip: { transports: ["udp", "tcp"], tcpCount: "writes" } }), policyName: "writes" } };
    const result = runModel(writes, {}, new Map());
    expect(reachedPbx(result)).toBe(4);
    expect(result.verdicts.filter((verdict) => verdict.verdict === "dropped").length).toBeGreaterThan(0);
  });

  it("phones over TCP register over their connections: a REGISTER, its 401, the answer and the 200, no retransmissions", () => {
    const scenario = scenarioOf({
      name: "tcp-office",
      description: "phones over TCP",
      durationSeconds: 5,
      pbx: { address: "198.51.100.10", accounts: [{ users: "200-219", password: "pbx-{user}-Str0ng" }] },
      hosts: { office: { kind: "addresses", addresses: ["198.18.20.1", "198.18.20.2"] } },
      traffic: [{ name: "phones", kind: "phones", host: "office", transport: "tcp", count: 2, accounts: "200-201", startSeconds: 1 }],
    });
    const result = runModel(scenario, {}, new Map());
    expect(result.events.filter((event) => event.kind === "registered")).toHaveLength(2);
    const requests = result.verdicts.filter((verdict) => verdict.direction === "to-pbx" && verdict.sipMethod === "REGISTER");
    expect(requests).toHaveLength(4);
    expect(result.verdicts.every((verdict) => verdict.protocol === "tcp")).toBe(true);
    const answers = result.verdicts.filter((verdict) => verdict.direction === "from-pbx" && verdict.sipMethod !== null).map((verdict) => verdict.sipMethod);
    expect(answers.sort()).toEqual(["200", "200", "401", "401"]);
  });

  it("several requests written together leave in one segment, and the PBX answers each", () => {
    const result = runModel(tcpFlood({ requestsPerWrite: 4, durationSeconds: 1 }), {}, new Map());
    const data = result.verdicts.filter((verdict) => verdict.direction === "to-pbx" && verdict.sipMethod === "REGISTER");
    expect(data).toHaveLength(5);
    expect(reachedPbx(result)).toBe(20);
  });

  it("the attack outcome says how many requests a TCP flood wrote, not how many Asterisk handled nor its segments", async () => {
    const report = await runScenario(tcpFlood({ requestsPerWrite: 2 }), new ModelEngine());
    const [attack] = report.attacks ?? [];
    // 5 s at 20 a second, two a write: 100 requests in 50 writes; the method match counts a write once (its segment
    // starts with REGISTER), so the 10th count, 18 requests in, blocks it.
    expect(attack).toMatchObject({ source: "flood", requestsSent: 100, requestsReachedPbx: 18 });
    expect(attack!.tcpSegmentsSent).toBeGreaterThan(attack!.requestsReachedPbx);
  });
});
