import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fillTemplate, parseRuleParam, rulesetTemplate } from "../../src/tune/ruleset-template.js";
import { runCli } from "../helpers/run-cli.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";

const work = scratchDirectory("ruleset-tune");
const admin = [
  "# The reference post's shape, as an admin runs it",
  "*filter",
  ":INPUT ACCEPT [0:0]",
  ":FORWARD ACCEPT [0:0]",
  ":OUTPUT ACCEPT [0:0]",
  ":SIP-REG - [0:0]",
  '-A INPUT -p udp -m udp --dport 5060 -m string --string "REGISTER sip:" --algo bm -j SIP-REG',
  "-A SIP-REG -m recent --set --name SIP --rsource",
  "[7:420] -A SIP-REG -m recent --update --seconds 60 --hitcount 10 --name SIP --rsource -j DROP",
  "COMMIT",
  "",
].join("\n");

describe("tuning the admin's own ruleset", () => {
  it("names the options to sweep by rule, and sets them without touching anything else", () => {
    const params = ["SIP-REG:2 --hitcount=5..40", "SIP-REG:2 --seconds=30,60"].map((text) => parseRuleParam(text)!);
    const template = rulesetTemplate("admin.rules", admin, params);
    expect(template.slots.map((slot) => [slot.label, slot.line, slot.current])).toEqual([
      ["SIP-REG:2 --hitcount", 9, 10],
      ["SIP-REG:2 --seconds", 9, 60],
    ]);
    const filled = fillTemplate(template, [25, 30]).split("\n");
    expect(filled[8]).toBe("[7:420] -A SIP-REG -m recent --update --seconds 30 --hitcount 25 --name SIP --rsource -j DROP");
    expect(filled.filter((line, index) => line !== admin.split("\n")[index])).toHaveLength(1);
    expect(() => rulesetTemplate("admin.rules", admin, [parseRuleParam("SIP-REG:3 --hitcount=5..40")!])).toThrow(/chain SIP-REG of admin\.rules has 2 rules/);
    expect(() => rulesetTemplate("admin.rules", admin, [parseRuleParam("SIP-REG:1 --hitcount=5..40")!])).toThrow(/line 8 has no --hitcount with a whole number/);
    expect(() => rulesetTemplate("admin.rules", admin, [parseRuleParam("NOPE:1 --hitcount=5..40")!])).toThrow(/has no chain NOPE in table filter/);
  });

  it("sweeps them over the scenarios, and --write-policy gives his ruleset with the recommended values", async () => {
    const rules = join(work, "admin.rules");
    writeFileSync(rules, admin);
    const tuned = join(work, "tuned.rules");
    const result = await runCli(
      "tune",
      "--scenarios",
      "register-flood,broken-phone",
      "--ruleset",
      rules,
      "--param",
      "SIP-REG:2 --hitcount=2..20:6",
      "--param",
      "SIP-REG:2 --seconds=20,60",
      "--workers",
      "1",
      "--out",
      join(work, "out"),
      "--write-policy",
      tuned,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^8 settings over 2 scenario runs; 2 unsafe/m);
    expect(result.stdout).toMatch(/recommended: SIP-REG:2 --hitcount=14, SIP-REG:2 --seconds=20: no legitimate packet is dropped/);
    const written = readFileSync(tuned, "utf8").split("\n");
    expect(written[0]).toMatch(/^# slamlab tune: SIP-REG:2 --hitcount=14 \(was 10\), SIP-REG:2 --seconds=20 \(was 60\): no legitimate packet/);
    expect(written.slice(1).join("\n")).toBe(admin.replace("--seconds 60 --hitcount 10", "--seconds 20 --hitcount 14"));
    const report = JSON.parse(readFileSync(join(work, "out", "results.json"), "utf8")) as { axes: unknown; results: Array<{ setting: unknown }> };
    expect(report.axes).toEqual({ hits: "SIP-REG:2 --hitcount", seconds: "SIP-REG:2 --seconds" });
    expect(report.results[0]!.setting).toEqual({ matcher: "ruleset", hits: 2, seconds: 20 });
    // His file is an input: the sweep never writes over it.
    expect(readFileSync(rules, "utf8")).toBe(admin);
    const clash = await runCli("tune", "--scenarios", "register-flood", "--ruleset", rules, "--param", "SIP-REG:2 --hitcount=5,10", "--out", join(work, "out2"), "--write-policy", rules);
    expect(clash.code).toBe(2);
    const wrongForm = await runCli("tune", "--scenarios", "register-flood", "--ruleset", rules, "--param", "hits=5..10", "--out", join(work, "out3"));
    expect(wrongForm.code).toBe(2);
    expect(wrongForm.stderr).toMatch(/with --ruleset, name a rule's option and its values: 'CHAIN:INDEX --option=VALUES'/);
  }, 120_000);
});
