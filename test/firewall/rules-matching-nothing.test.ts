import { describe, expect, it } from "vitest";
import { runModel } from "../../src/engines/model/model-engine.js";
import { parseRuleset } from "../../src/firewall/parse-ruleset.js";
import { rulesMatchingNothing } from "../../src/firewall/rules-matching-nothing.js";
import { renderTerminal } from "../../src/report/render-terminal.js";
import { runScenario } from "../../src/cli/run-scenario.js";
import { ModelEngine } from "../../src/engines/model/model-engine.js";
import { scenarioOf } from "../helpers/scenario.js";

const office = {
  name: "office",
  description: "an office behind NAT and a scanner",
  durationSeconds: 20,
  pbx: { accounts: [{ users: "200-203", password: "pw-{user}-Str0ng" }] },
  hosts: { office: { kind: "nat", public: "198.18.10.1", lan: "192.0.2.0/24" }, scanner: { kind: "range", cidr: "198.19.7.0/24", count: 4 } },
  traffic: [
    { name: "phones", kind: "phones", host: "office", count: 4, accounts: "200-203" },
    { name: "scan", kind: "register-flood", host: "scanner", ratePps: 5, durationSeconds: 10 },
  ],
};
const rules = (lines: string[]) => `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${lines.join("\n")}\nCOMMIT\n`;

describe("rules of an admin's ruleset that no packet of the scenario can match", () => {
  it("are named with their line: real networks, a LAN behind NAT, an interface the PBX does not have", () => {
    const text = rules([
      "-A INPUT -i lo -j ACCEPT",
      "-A INPUT -s 127.0.0.0/8 -j ACCEPT",
      "-A INPUT -s 81.2.3.0/24 -j ACCEPT",
      "-A INPUT -s 192.0.2.0/24 -j ACCEPT",
      "-A INPUT -d 203.0.113.5/32 -p udp --dport 5060 -j ACCEPT",
      "-A INPUT -i ens3 -p udp --dport 5060 -j DROP",
      "-A INPUT ! -i eth0 -j DROP",
      "-A INPUT -s 198.19.7.0/25 -j DROP",
      "-A INPUT ! -s 198.18.0.0/15 -j DROP",
      "-A INPUT ! -s 0.0.0.0/0 -j DROP",
      "-A INPUT -i eth+ -j ACCEPT",
    ]);
    const warnings = rulesMatchingNothing(parseRuleset(text, "admin.rules"), scenarioOf(office, { rulesetText: text }));
    const lines = warnings.map((warning) => Number(/admin\.rules: line (\d+):/.exec(warning)?.[1]));
    // Lines 7-9 name networks the scenario does not have (the office LAN sits behind its NAT), 10 an
    // interface the PBX lacks, 14 excludes everything; 11's "! -i eth0" still matches loopback.
    expect(lines).toEqual([7, 8, 9, 10, 14]);
    expect(warnings[1]).toMatch(/-s 192\.0\.2\.0\/24 matches no address in the scenario; the scenario's addresses are 198\.51\.100\.10\/32, 127\.0\.0\.0\/8, 198\.18\.10\.1\/32/);
    expect(warnings[3]).toMatch(/-i ens3 matches no packet: the PBX's traffic uses eth0 .*pbx\.interface/);
  });

  it("are reported before the results, in the terminal and JSON reports", async () => {
    const text = rules(["-A INPUT -s 81.2.3.0/24 -p udp --dport 5060 -j ACCEPT", "-A INPUT -p udp --dport 5060 -j ACCEPT"]);
    const report = await runScenario(scenarioOf(office, { rulesetText: text }), new ModelEngine());
    expect(report.warnings).toHaveLength(1);
    const terminal = renderTerminal(report, { color: false });
    expect(terminal.indexOf("Warnings: rules this scenario cannot test")).toBeLessThan(terminal.indexOf("Expectations"));
    expect(terminal).toContain("line 5: -s 81.2.3.0/24 matches no address in the scenario");
  });

  it("the model judges -i against the scenario's PBX interface", () => {
    const text = rules(["-A INPUT -i ens3 -p udp --dport 5060 -j DROP"]);
    const dropped = (pbxInterface?: string) =>
      runModel(scenarioOf({ ...office, pbx: { ...office.pbx, ...(pbxInterface ? { interface: pbxInterface } : {}) } }, { rulesetText: text })).verdicts.filter((verdict) => verdict.verdict === "dropped").length;
    expect(dropped()).toBe(0);
    // Everything on ens3 is dropped: the phones' retransmissions and the scanners' first requests (sipvicious then gives up).
    expect(dropped("ens3")).toBeGreaterThan(30);
    expect(rulesMatchingNothing(parseRuleset(text), scenarioOf({ ...office, pbx: { ...office.pbx, interface: "ens3" } }, { rulesetText: text }))).toEqual([]);
  });
});
