import { describe, expect, it } from "vitest";
import { defaultKernelSettings } from "../../../../src/engines/model/kernel-settings.js";
import { compileFirewall } from "../../../../src/engines/model/netfilter/interpreter.js";
import { parseRuleset } from "../../../../src/firewall/parse-ruleset.js";
import { contextAt, HZ, START, udpPacket } from "../../../helpers/firewall.js";
import { judgeInKernel, judgeInModel, kernelOracleHere, kernelOracleProblem } from "../../../helpers/kernel-oracle.js";
import { scenarioOf } from "../../../helpers/scenario.js";
import { runModel } from "../../../../src/engines/model/model-engine.js";
import { DockerEngine } from "../../../../src/engines/docker/docker-engine.js";

/**
 * -m time (xt_time.c) by the wall clock: office hours, weekdays, days of the
 * month, ranges across midnight with and without --contiguous.
 */
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
if (!kernelOracleHere && !required) console.log(`skipping the kernel half of the time checks: ${kernelOracleProblem || "it needs root, unshare and iptables"}`);

const rules = (lines: string[]) => `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${lines.join("\n")}\nCOMMIT\n`;

/** Judges one packet `seconds` after a wall clock of `startsAt` with the given INPUT rules: true when accepted. */
function acceptedAt(startsAt: string, seconds: number, inputRules: string[]): boolean {
  const firewall = compileFirewall(parseRuleset(rules(inputRules), "time.rules"), { settings: defaultKernelSettings, tables: new Map(), wallClockStartMs: Date.parse(startsAt) });
  return firewall.judge("INPUT", udpPacket("198.18.1.1"), { ...contextAt(START + Math.floor(seconds * HZ)), clockNs: seconds * 1e9 }).accepted;
}

describe("-m time in the model, by the scenario's clock", () => {
  const officeHours = ["-A INPUT -p udp -m time --timestart 09:00:00 --timestop 17:00:00 --weekdays Mon,Tue,Wed,Thu,Fri -j ACCEPT", "-A INPUT -p udp -j DROP"];

  it("office hours on weekdays: the edges are whole seconds, inclusive at both ends", () => {
    // 2026-12-07 is a Monday.
    expect(acceptedAt("2026-12-07T08:59:58Z", 0, officeHours)).toBe(false);
    expect(acceptedAt("2026-12-07T08:59:58Z", 1.999, officeHours)).toBe(false);
    expect(acceptedAt("2026-12-07T08:59:58Z", 2, officeHours)).toBe(true);
    expect(acceptedAt("2026-12-07T17:00:00Z", 0.999, officeHours)).toBe(true);
    expect(acceptedAt("2026-12-07T17:00:00Z", 1, officeHours)).toBe(false);
    expect(acceptedAt("2026-12-06T12:00:00Z", 0, officeHours)).toBe(false); // Sunday
  });

  it("a range across midnight matches both sides; --contiguous counts the early hours as the day before", () => {
    const night = (contiguous: string) => [`-A INPUT -p udp -m time --timestart 22:00 --timestop 06:00 --weekdays Mon${contiguous} -j ACCEPT`, "-A INPUT -p udp -j DROP"];
    // Monday 23:00 and Tuesday 01:00: without --contiguous the weekday is the packet's own.
    expect(acceptedAt("2026-12-07T23:00:00Z", 0, night(""))).toBe(true);
    expect(acceptedAt("2026-12-08T01:00:00Z", 0, night(""))).toBe(false);
    expect(acceptedAt("2026-12-07T01:00:00Z", 0, night(""))).toBe(true);
    expect(acceptedAt("2026-12-08T01:00:00Z", 0, night(" --contiguous"))).toBe(true);
    expect(acceptedAt("2026-12-07T01:00:00Z", 0, night(" --contiguous"))).toBe(false);
  });

  it("dates, days of the month and negated weekdays", () => {
    const dated = ["-A INPUT -p udp -m time --datestart 2026-12-24T18:00:00 --datestop 2026-12-26 -j DROP"];
    expect(acceptedAt("2026-12-24T17:59:59Z", 0, dated)).toBe(true);
    expect(acceptedAt("2026-12-24T18:00:00Z", 0, dated)).toBe(false);
    expect(acceptedAt("2026-12-26T00:00:00Z", 0, dated)).toBe(false);
    expect(acceptedAt("2026-12-26T00:00:01Z", 0, dated)).toBe(true);
    const monthdays = ["-A INPUT -p udp -m time --monthdays 1,31 -j DROP"];
    expect(acceptedAt("2026-12-31T12:00:00Z", 0, monthdays)).toBe(false);
    expect(acceptedAt("2026-12-30T12:00:00Z", 0, monthdays)).toBe(true);
    const weekend = ["-A INPUT -p udp -m time ! --weekdays Sat,Sun -j DROP"];
    expect(acceptedAt("2026-12-05T12:00:00Z", 0, weekend)).toBe(true); // Saturday
    expect(acceptedAt("2026-12-04T12:00:00Z", 0, weekend)).toBe(false);
  });

  it("refuses what iptables refuses: --contiguous on a range within one day, times past 23:59:59", () => {
    expect(() => acceptedAt("2026-12-07T12:00:00Z", 0, ["-A INPUT -m time --timestart 09:00 --timestop 17:00 --contiguous -j DROP"])).toThrow(/--contiguous needs --timestart later than --timestop/);
    expect(() => acceptedAt("2026-12-07T12:00:00Z", 0, ["-A INPUT -m time --timestart 24:00 -j DROP"])).toThrow(/--timestart 24:00: expected hh:mm\[:ss\]/);
  });
});

describe.runIf(kernelOracleHere || required)("-m time against the kernel's own clock", () => {
  it("windows around now, today's and tomorrow's weekday, today's day of the month, a range across midnight", () => {
    const now = new Date();
    const at = (offsetHours: number) => {
      const time = new Date(now.getTime() + offsetHours * 3600_000);
      return `${String(time.getUTCHours()).padStart(2, "0")}:${String(time.getUTCMinutes()).padStart(2, "0")}:00`;
    };
    const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const today = days[now.getUTCDay()]!;
    const tomorrow = days[(now.getUTCDay() + 1) % 7]!;
    const other = (now.getUTCDate() % 28) + 1;
    const UDP = "-A INPUT -p udp --dport 5060";
    const inputRules = [
      `${UDP} -s 10.0.0.1 -m time --timestart ${at(-1)} --timestop ${at(1)} -j DROP`,
      `${UDP} -s 10.0.0.2 -m time --timestart ${at(2)} --timestop ${at(3)} -j DROP`,
      `${UDP} -s 10.0.0.3 -m time --weekdays ${today} -j DROP`,
      `${UDP} -s 10.0.0.4 -m time --weekdays ${tomorrow} -j DROP`,
      `${UDP} -s 10.0.0.5 -m time --monthdays ${now.getUTCDate()} -j DROP`,
      `${UDP} -s 10.0.0.6 -m time --monthdays ${other} -j DROP`,
      `${UDP} -s 10.0.0.7 -m time --timestart ${at(3)} --timestop ${at(1)} -j DROP`,
    ].join("\n");
    const sends = [1, 2, 3, 4, 5, 6, 7].map((host) => ({ src: `10.0.0.${host}` }));
    const kernel = judgeInKernel(inputRules, sends);
    expect(judgeInModel(inputRules, sends)).toMatchObject(kernel);
    expect(kernel.delivered).toEqual([false, true, false, true, false, true, false]);
  });
});

describe("a scenario's startsAt", () => {
  const officeHours = `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p udp -m time --timestart 09:00 --timestop 17:00 -j ACCEPT\n-A INPUT -p udp -j DROP\nCOMMIT\n`;
  const scenario = (startsAt: string) =>
    scenarioOf(
      {
        name: "clock",
        description: "a phone before and after nine",
        durationSeconds: 20,
        startsAt,
        pbx: { accounts: [{ users: "200-200", password: "pw-200-Str0ng" }] },
        hosts: { phone: { kind: "addresses", addresses: ["198.18.1.2"] } },
        traffic: [{ name: "phone", kind: "phones", host: "phone", count: 1, accounts: "200-200", spreadSeconds: 0 }],
        expect: [{ source: "phone", registered: "all" }],
      },
      { rulesetText: officeHours },
    );

  it("is the model's wall clock at virtual time 0", () => {
    const before = runModel(scenario("2026-12-07T08:00:00Z"));
    const after = runModel(scenario("2026-12-07T09:00:00Z"));
    expect(before.verdicts.filter((verdict) => verdict.direction === "to-pbx").every((verdict) => verdict.verdict === "dropped")).toBe(true);
    expect(after.verdicts.filter((verdict) => verdict.direction === "to-pbx").every((verdict) => verdict.verdict === "delivered")).toBe(true);
    expect(after.wallClockStartMs).toBe(Date.parse("2026-12-07T09:00:00Z"));
  });

  it("is refused by the docker engine for a ruleset with -m time, before anything starts: a container cannot set the kernel's clock", async () => {
    await expect(new DockerEngine().run(scenario("2026-12-07T09:00:00Z"))).rejects.toThrow(/startsAt 2026-12-07T09:00:00Z sets the clock that line 5's -m time judges by, but the docker engine's kernel keeps the real clock/);
  });
});
