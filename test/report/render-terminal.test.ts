import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/cli/run-scenario.js";
import { ModelEngine } from "../../src/engines/model/model-engine.js";
import { renderJson } from "../../src/report/render-json.js";
import { renderTerminal } from "../../src/report/render-terminal.js";
import { resolveScenarioRef } from "../../src/scenario/catalogue.js";
import { loadScenario } from "../../src/scenario/load-scenario.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";

describe("the terminal report of a docker run", () => {
  const dockerLike = async (environment: Record<string, string>) => {
    const report = await runScenario(loadScenario(resolveScenarioRef("nat-office"), null), new ModelEngine());
    return renderTerminal({ ...report, result: { ...report.result, engine: "docker", environment: { asterisk: "Asterisk 22.10.1", kernel: "6.18", "asterisk contacts": "none", ...environment } } }, { color: false });
  };

  it("gives the paced sends' lateness and the CPU Asterisk used", async () => {
    const text = await dockerLike({ "send error p50 (µs)": "41", "send error p99 (µs)": "380", "asterisk cpu (s)": "0.412" });
    expect(text).toContain("send-time error p50 41 µs, p99 380 µs");
    expect(text).toContain("Asterisk used 0.412 s of CPU");
  });

  it("says the send error was not measured when only real tools sent, rather than 0 µs", async () => {
    const text = await dockerLike({ "send error p50 (µs)": "not measured", "send error p99 (µs)": "not measured" });
    expect(text).toContain("send-time error not measured (no paced sends: real tools keep their own time)");
    expect(text).not.toMatch(/p50 (0|not measured) µs/);
  });
});

describe("the attack outcome", () => {
  it("says which password a guesser found, when and with which guess, and passwordFound expectations check it", async () => {
    const file = join(scratchDirectory("attack-outcome"), "weak.yaml");
    writeFileSync(
      file,
      [
        "name: weak-password",
        "description: an account whose password is the first word of svcrack's dictionary",
        "durationSeconds: 10",
        "firewall: { policy: default }",
        "pbx: { accounts: [{ users: 200-209, password: 'strong-{user}-Pw' }, { users: 210-210, password: '1234' }] }",
        "hosts: { scanner: { kind: addresses, addresses: [198.18.66.6] } }",
        "traffic:",
        "  - { name: crack, kind: register-flood, host: scanner, mode: svcrack, extensions: 210-210, ratePps: 2, durationSeconds: 5, startSeconds: 1 }",
        "expect:",
        "  - { source: crack, passwordFound: false, because: the firewall should stop the guessing first }",
        "",
      ].join("\n"),
    );
    const report = await runScenario(loadScenario(file, null), new ModelEngine());
    const crack = report.outcomes.find((outcome) => outcome.source === "crack")!;
    expect(crack.passwordsFound).toMatchObject([{ account: "210", agent: "198.18.66.6", detail: 'password "1234", its guess 1 from 198.18.66.6' }]);
    expect(report.expectations).toMatchObject([{ clause: "passwordFound: false", passed: false, actual: expect.stringMatching(/^found the password of 210 at 1\.\d\d s \(password "1234", its guess 1/) }]);
    const text = renderTerminal(report, { color: false });
    expect(text).toMatch(/Attack outcome\n {2}crack \(svcrack\) found the password of 210 at 1\.\d\d s \(password "1234", its guess 1 from 198\.18\.66\.6\); 2 of its 2 requests reached the PBX \(about 1 ms of Asterisk's CPU\)/);
    expect(report.attacks).toMatchObject([{ source: "crack", tool: "svcrack", won: true, requestsSent: 2, requestsReachedPbx: 2 }]);
  });

  it("says of every attack whether it worked: the walker confirmed no extension, the cracker found no password, and how many of their requests reached the PBX", async () => {
    const report = await runScenario(loadScenario(resolveScenarioRef("register-flood"), null), new ModelEngine());
    const text = renderTerminal(report, { color: false });
    expect(text).toMatch(/Attack outcome\n {2}svwar confirmed no extension \(every answer was a random extension's\); 9 of its \d+ requests reached the PBX \(about 5 ms of Asterisk's CPU\); Asterisk's security log: 9 ChallengeSent, 9 InvalidAccountID\n {2}svcrack-botnet \(svcrack\) found no password; 180 of its \d+ requests reached the PBX \(about 116 ms of Asterisk's CPU\); Asterisk's security log: 160 ChallengeResponseFailed, 20 ChallengeSent/);
    expect(report.attacks!.every((attack) => !attack.won)).toBe(true);
    const json = JSON.parse([...renderJson(report, { verdicts: false })].join(""));
    expect(json.attacks).toMatchObject([
      { source: "svwar", tool: "svwar", won: false, requestsReachedPbx: 9, extensionsFound: [], securityEvents: { InvalidAccountID: 9, ChallengeSent: 9 } },
      { source: "svcrack-botnet", tool: "svcrack", won: false, passwordsFound: [], securityEvents: { ChallengeSent: 20, ChallengeResponseFailed: 160 } },
    ]);
  });

  it("names the attackers that stopped because nothing answered them, how many and when", async () => {
    const report = await runScenario(loadScenario(resolveScenarioRef("register-flood"), null), new ModelEngine());
    const svwar = report.outcomes.find((outcome) => outcome.source === "svwar")!;
    // Blocked at its 10th REGISTER a few seconds in, it hears nothing more and stops 10 s later.
    expect(svwar.gaveUp).toMatchObject({ addresses: 1, firstDetail: expect.stringMatching(/^svwar from 198\.18\.66\.6 stopped after \d+ requests: no answer for 10 s$/) });
    expect(svwar.gaveUp!.firstAtUs - svwar.firstDropUs!).toBeGreaterThanOrEqual(10_000_000);
    expect(svwar.gaveUp!.firstAtUs - svwar.firstDropUs!).toBeLessThan(10_500_000);
    const text = renderTerminal(report, { color: false });
    expect(text).toMatch(/Attackers that gave up \(nothing answered them\)\n {2}svwar: 1 of 1 address stopped, the first at \d+\.\d\d s \(svwar from 198\.18\.66\.6 stopped after \d+ requests: no answer for 10 s\)\n {2}svcrack-botnet: 20 of 20 addresses stopped/);
  });
});
