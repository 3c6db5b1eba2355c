import { describe, expect, it } from "vitest";
import { judgeRecorded } from "../../src/engines/model/judge-recorded.js";
import { runModel } from "../../src/engines/model/model-engine.js";
import { builtinScenarioDirectory } from "../../src/scenario/catalogue.js";
import { loadScenario } from "../../src/scenario/load-scenario.js";
import { compareRuns, sipTransactionOf } from "../../src/verdict/compare-runs.js";
import { describeDisagreementStates, rejudgeAcrossJiffy } from "../../src/engines/compare-engines.js";

describe("comparing runs packet by packet (slamlab diff)", () => {
  it("the model judging a recorded run's packets at their recorded times decides as that run did", () => {
    for (const name of ["port-reuse", "broken-phone", "nat-office"]) {
      const run = runModel(loadScenario(`${builtinScenarioDirectory()}/${name}.yaml`, null), { keepPackets: true });
      const rejudged = judgeRecorded(run, "host");
      expect(rejudged.map((judgement) => (judgement.accepted ? "delivered" : "dropped"))).toEqual(run.verdicts.map((verdict) => verdict.verdict));
    }
  });

  it("a run compared with itself agrees on every packet", () => {
    const run = runModel(loadScenario(`${builtinScenarioDirectory()}/register-flood.yaml`, null), { keepPackets: true });
    const comparison = compareRuns(run, run, judgeRecorded(run, "host"));
    expect(comparison).toMatchObject({ paired: run.verdicts.length, agreeing: run.verdicts.length, unpaired: 0 });
    expect(comparison.semantic).toEqual([]);
  });

  it("tells a difference timing explains from one it does not", () => {
    const scenario = loadScenario(`${builtinScenarioDirectory()}/port-reuse.yaml`, null);
    const real = runModel(scenario, { keepPackets: true });
    // A "kernel" run whose 10th request came in just after the window: the model, given that time, agrees.
    const shifted = { ...real, verdicts: real.verdicts.map((verdict) => ({ ...verdict })) };
    const requests = shifted.verdicts.filter((verdict) => verdict.direction === "to-pbx");
    (requests[9] as { verdict: string }).verdict = "delivered";
    const comparison = compareRuns(real, shifted, judgeRecorded(real, "host"));
    expect(comparison.semantic).toHaveLength(1);
    expect(comparison.semantic[0]).toMatchObject({ position: 10, model: { verdict: "dropped" }, real: { verdict: "delivered" } });
    expect(comparison.timingOnly).toEqual([]);
  });

  /** port-reuse, and a "kernel" run that got the attacker's 10th request and everything after it 61 s late, past the 60 s window. */
  const withLateKernel = () => {
    const model = runModel(loadScenario(`${builtinScenarioDirectory()}/port-reuse.yaml`, null), { keepPackets: true });
    const tenth = model.verdicts.filter((verdict) => verdict.direction === "to-pbx")[9]!;
    const late = { ...model, verdicts: model.verdicts.map((verdict) => (verdict.packetId >= tenth.packetId ? { ...verdict, atUs: verdict.atUs + 61_000_000 } : verdict)) };
    const rejudged = judgeRecorded(late, "host");
    const real = { ...late, verdicts: late.verdicts.map((verdict, index) => ({ ...verdict, verdict: rejudged[index]!.accepted ? ("delivered" as const) : ("dropped" as const) })) };
    return { model, real, rejudged };
  };

  it("counts a difference as timing-only when the model, given the kernel's packet times, decides as the kernel did", () => {
    const { model, real, rejudged } = withLateKernel();
    const comparison = compareRuns(model, real, rejudged);
    expect(comparison.timingOnly.length).toBeGreaterThan(0);
    expect(comparison.timingOnly[0]).toMatchObject({ position: 10, model: { verdict: "dropped" }, real: { verdict: "delivered" } });
    expect(comparison.semantic).toEqual([]);
  });

  it("shows, beside a disagreement, what the model held for that packet in its own run and at the kernel's times", () => {
    const { model, real, rejudged } = withLateKernel();
    const [first] = describeDisagreementStates(compareRuns(model, real, rejudged), model, real, "host").timingOnly;
    // The model's own run saw nine REGISTERs in the last 0.2 s; the kernel's, nine 61 s before.
    expect(first!.modelState).toBe("conntrack ESTABLISHED (1 entry); recent SIP-BLOCK: 198.18.77.7 not listed (0 entries); recent SIP: 198.18.77.7 seen 0.048, 0.100, 0.148, 0.200 s ago, 5 older (1 entry)");
    expect(first!.modelStateAtKernelTimes).toBe("conntrack NEW (0 entries); recent SIP-BLOCK: 198.18.77.7 not listed (0 entries); recent SIP: 198.18.77.7 seen 61.048, 61.100, 61.148, 61.200 s ago, 5 older (1 entry)");
  });

  it("pairs by SIP transaction, so a packet only one engine judged does not shift the agent's later packets", () => {
    const run = runModel(loadScenario(`${builtinScenarioDirectory()}/nat-office.yaml`, "no-allowlist"), { keepPackets: true });
    // A request after which the same phone's verdicts change, so a pairing shifted by one would disagree.
    const verdictChangesAfter = (index: number) => {
      const { source, agent } = run.verdicts[index]!;
      const later = run.verdicts.slice(index).filter((verdict) => verdict.source === source && verdict.agent === agent && verdict.direction === "to-pbx");
      return later.some((verdict, at) => at > 0 && verdict.verdict !== later[at - 1]!.verdict);
    };
    const missing = run.verdicts.findIndex((verdict, index) => verdict.direction === "to-pbx" && sipTransactionOf(run.packets![verdict.packetId]) !== "" && verdictChangesAfter(index));
    expect(missing).toBeGreaterThanOrEqual(0);
    const real = { ...run, verdicts: run.verdicts.filter((_, index) => index !== missing) };
    const comparison = compareRuns(run, real, judgeRecorded(real, "host"));
    expect(comparison).toMatchObject({ paired: run.verdicts.length - 1, agreeing: run.verdicts.length - 1, unpaired: 1 });
  });
  it("pairs Asterisk's NOTIFYs and the phone's answers to them although PJSIP numbers them from a random CSeq", () => {
    const run = runModel(loadScenario(`${builtinScenarioDirectory()}/blf-subscribe.yaml`, null), { keepPackets: true });
    const renumber = (datagram: Uint8Array) => {
      const text = Buffer.from(datagram).toString("latin1");
      return new Uint8Array(Buffer.from(text.replace(/^(CSeq[ \t]*:[ \t]*)(\d+)([ \t]+NOTIFY)/im, (_, head: string, number: string, tail: string) => `${head}${Number(number) + 17_000}${tail}`), "latin1"));
    };
    const real = { ...run, packets: run.packets!.map(renumber) };
    const notifies = run.verdicts.filter((verdict) => /^CSeq[ \t]*:[ \t]*\d+[ \t]+NOTIFY/im.test(Buffer.from(run.packets![verdict.packetId]!).toString("latin1")));
    expect(notifies.filter((verdict) => verdict.direction === "from-pbx").length).toBeGreaterThan(0);
    expect(notifies.filter((verdict) => verdict.direction === "to-pbx").length).toBeGreaterThan(0);
    const comparison = compareRuns(run, real, judgeRecorded(real, "host"));
    expect(comparison).toMatchObject({ paired: run.verdicts.length, unpaired: 0 });
  });
});

describe("re-judging across a jiffy (what timing explains)", () => {
  // A timestamp and the moment the filter read jiffies are µs apart; at a jiffy edge that decides.
  it("explains every verdict a kernel reached with packets judged up to 0.2 ms off their recorded times, and no more", () => {
    const loaded = loadScenario(`${builtinScenarioDirectory()}/distributed-scan.yaml`, "hashlimit");
    // Bots that never give up keep meeting hashlimit's token edges after their block (sipvicious would stop 10 s into it).
    const scenario = { ...loaded, traffic: loaded.traffic.map((source) => (source.kind === "register-flood" ? { ...source, giveUpSeconds: 0 } : source)) };
    const run = runModel(scenario, { keepPackets: true });
    // The "kernel" judged each packet up to 0.2 ms away from the time it was recorded with.
    let seed = 7;
    const jitter = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 400 - 200;
    const judgedAt = { ...run, verdicts: run.verdicts.map((verdict) => ({ ...verdict, atUs: verdict.atUs + jitter() })) };
    const kernel = judgeRecorded(judgedAt, "host");
    const real = { ...run, verdicts: run.verdicts.map((verdict, index) => ({ ...verdict, verdict: kernel[index]!.accepted ? ("delivered" as const) : ("dropped" as const) })) };
    const differing = real.verdicts.filter((verdict, index) => verdict.verdict !== run.verdicts[index]!.verdict).length;
    expect(differing).toBeGreaterThan(0);
    const { explainedByTiming } = rejudgeAcrossJiffy(real, "host");
    expect(explainedByTiming.every(Boolean)).toBe(true);
    // A verdict no timing gives (a REGISTER from a fresh bot dropped) stays unexplained.
    const first = real.verdicts.findIndex((verdict) => verdict.direction === "to-pbx");
    const wrong = { ...real, verdicts: real.verdicts.map((verdict, index) => (index === first ? { ...verdict, verdict: "dropped" as const } : verdict)) };
    expect(rejudgeAcrossJiffy(wrong, "host").explainedByTiming[first]).toBe(false);
  }, 60_000);
});
