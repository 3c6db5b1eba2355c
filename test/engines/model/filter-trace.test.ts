import { describe, expect, it } from "vitest";
import { compileRulesetText } from "../../../src/engines/model/compile-ruleset.js";
import { FilterTrace } from "../../../src/engines/model/filter-trace.js";
import { defaultKernelSettings } from "../../../src/engines/model/kernel-settings.js";
import { runModel } from "../../../src/engines/model/model-engine.js";
import { policyRulesetText } from "../../../src/firewall/policy-ruleset.js";
import { loadTuneScenario, tuneScenarioRefs } from "../../../src/tune/tune-scenarios.js";
import { loadReplays } from "../../../src/traffic/replay/load-replays.js";
import { packetsJudged } from "../../../src/verdict/run-result.js";

const compile = (text: string) => compileRulesetText(text, "trace test", { settings: defaultKernelSettings, tables: new Map() });

describe("a run's filter trace", () => {
  it("holds every judged packet and tells a ruleset that decides them alike from one that does not", async () => {
    const ref = tuneScenarioRefs(undefined).find((candidate) => candidate.label === "register-flood")!;
    const scenario = loadTuneScenario(ref);
    const trace = new FilterTrace();
    const result = runModel(scenario, {}, await loadReplays(scenario), trace);
    expect(trace.length).toBe(packetsJudged(result));
    expect(result.verdicts.some((verdict) => verdict.verdict === "dropped")).toBe(true);
    if (scenario.firewall.kind !== "policy") throw new Error("register-flood runs a policy");
    // The run's own ruleset, compiled afresh, decides every packet again as it did.
    expect(trace.judgedAlike(compile(policyRulesetText(scenario.firewall.policy, scenario.firewall.format, { pbxAddress: scenario.pbx.address })))).toBe(true);
    // One that accepts everything does not: the run dropped some.
    expect(trace.judgedAlike(compile("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"))).toBe(false);
    // Several in one pass, each with its own state: the run's ruleset twice over (two compilations, two recent lists), between two that differ.
    const { policy, format } = scenario.firewall;
    const own = () => compile(policyRulesetText(policy, format, { pbxAddress: scenario.pbx.address }));
    const acceptAll = compile("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n");
    const dropAll = compile("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\nCOMMIT\n");
    expect(trace.judgedAlikeEach([acceptAll, own(), dropAll, own()])).toEqual([false, true, false, true]);
  });
});
