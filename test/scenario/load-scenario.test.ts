import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveScenarioRef } from "../../src/scenario/catalogue.js";
import { loadScenario } from "../../src/scenario/load-scenario.js";
import { ScenarioError } from "../../src/scenario/scenario.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";

const directory = scratchDirectory("scenarios");

function scenarioFile(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

const valid = `name: tiny
description: one phone
durationSeconds: 30
firewall:
  policy: default
pbx:
  accounts:
    - users: 200-201
      password: "p-{user}"
hosts:
  home:
    kind: addresses
    addresses: [198.18.1.1]
traffic:
  - name: phone
    kind: phones
    host: home
    accounts: 200-200
expect:
  - source: phone
    registered: all
variants:
  - name: strict
    policy:
      matcher: { kind: recent, hits: 2, seconds: 60 }
`;

function errorOf(action: () => unknown): ScenarioError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return error as ScenarioError;
  }
  throw new Error("expected an error");
}

describe("loading scenarios", () => {
  it("reads a valid scenario and a variant merged over its policy", () => {
    const path = scenarioFile("tiny.yaml", valid);
    const base = loadScenario(path, null);
    const strict = loadScenario(path, "strict");
    expect(base.firewall).toMatchObject({ kind: "policy", policyName: "default" });
    expect(strict.firewall.kind === "policy" && strict.firewall.policy.matcher).toMatchObject({ kind: "recent", hits: 2 });
    expect(strict.expect).toEqual(base.expect);
  });

  it("names the file, line and path of a schema error, and what was expected", () => {
    const path = scenarioFile("bad-address.yaml", valid.replace("addresses: [198.18.1.1]", "addresses: [8.8.8.8]"));
    const error = errorOf(() => loadScenario(path, null));
    expect(error.code).toBe("SCENARIO_INVALID");
    expect(error.message).toContain(`${path}:13: hosts.home.addresses[0]: lab addresses must be in 198.18.0.0/15, 192.0.2.0/24 or 198.51.100.0/24; got "8.8.8.8"`);
  });

  it("reports YAML syntax errors with line and column", () => {
    const path = scenarioFile("syntax.yaml", "name: x\ndescription: [unclosed\n");
    const error = errorOf(() => loadScenario(path, null));
    expect(error.code).toBe("SCENARIO_SYNTAX");
    expect(error.message).toMatch(new RegExp(`${path}:\\d+:\\d+: `));
  });

  it("catches references to hosts, sources and accounts that do not exist", () => {
    const path = scenarioFile(
      "refs.yaml",
      valid.replace("host: home", "host: office").replace("source: phone", "source: phones").replace("accounts: 200-200", "accounts: 300-300"),
    );
    const message = errorOf(() => loadScenario(path, null)).message;
    expect(message).toContain('no host "office"; hosts are home');
    expect(message).toContain('no traffic source "phones"; sources are phone');
  });

  it("says which variants exist when asked for another", () => {
    const path = scenarioFile("variants.yaml", valid);
    expect(errorOf(() => loadScenario(path, "lenient")).message).toContain('no variant "lenient"; variants are strict');
  });

  it("passes policy errors through with the scenario file in the message", () => {
    const path = scenarioFile("policy.yaml", valid.replace("hits: 2", "hits: 70000"));
    const error = errorOf(() => loadScenario(path, "strict"));
    expect(error.message).toContain(`${path}: variants.strict.policy`);
    expect(error.message).toContain("xt_recent accepts --hitcount up to 65535");
  });

  it("reads a ruleset file relative to the scenario, and refuses one it cannot parse at load time", () => {
    const rules = scenarioFile("broken.rules", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m nosuch -j DROP\nCOMMIT\n");
    const path = scenarioFile("ruleset.yaml", valid.replace("policy: default", `ruleset: ${rules.split("/").pop()}`));
    expect(errorOf(() => loadScenario(path, null)).message).toMatch(/broken\.rules.*line 3|line 3.*nosuch/);
    const missing = scenarioFile("missing.yaml", valid.replace("policy: default", "ruleset: nothing-here.rules"));
    expect(errorOf(() => loadScenario(missing, null)).message).toContain("nothing-here.rules does not exist (paths are relative to the scenario file)");
  });

  it("reads fail2ban beside the firewall with the asterisk jail's defaults, and beside nftables with its nftables action", () => {
    const jailed = loadScenario(scenarioFile("f2b.yaml", valid.replace("policy: default", "policy: default\n  fail2ban: { maxretry: 5, banDelaySeconds: 0.25 }")), null);
    expect(jailed.fail2ban).toEqual({ maxretry: 5, findtimeSeconds: 600, bantimeSeconds: 600, banDelayUs: 250_000, set: "f2b-asterisk" });
    expect(jailed.firewall.kind).toBe("policy");
    scenarioFile("tiny.nft", "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t}\n}\n");
    const beside = scenarioFile("f2b-nft.yaml", valid.replace("policy: default", "ruleset: tiny.nft\n  fail2ban: {}"));
    expect(loadScenario(beside, null).fail2ban).toMatchObject({ maxretry: 10, set: "f2b-asterisk" });
  });

  it("refuses a SIPp office whose accounts' password SIPp's injection file cannot carry, before any lab starts", () => {
    const office = valid.replace('password: "p-{user}"', 'password: "p;{user}"').replace("traffic:\n", "traffic:\n  - name: sipp\n    kind: tool\n    tool: sipp-register\n    host: home\n    target: 200-201\n");
    const error = errorOf(() => loadScenario(scenarioFile("sipp-semicolon.yaml", office), null));
    expect(error.code).toBe("SCENARIO_INVALID");
    expect(error.message).toMatch(/sipp-semicolon\.yaml:\d+: traffic\[0\]\.target: the password of account 200 holds a ";" or a line break, which SIPp's injection file cannot carry/);
  });

  it("refuses svcrack aimed at a range of extensions, a backward range of passwords or of extensions, saying what to give instead", () => {
    const crack = (target: string, passwords: string) => valid.replace("traffic:\n", `traffic:\n  - name: crack\n    kind: tool\n    tool: svcrack\n    host: home\n    target: "${target}"\n    passwords: "${passwords}"\n`);
    const range = errorOf(() => loadScenario(scenarioFile("svcrack-range.yaml", crack("200-209", "1000-1099")), null));
    expect(range.code).toBe("SCENARIO_INVALID");
    expect(range.message).toMatch(/svcrack-range\.yaml:\d+: traffic\[0\]\.target: svcrack guesses the password of one extension: give target one extension \("200"\)/);
    expect(errorOf(() => loadScenario(scenarioFile("svcrack-backward.yaml", crack("200", "1099-1000")), null)).message).toMatch(/traffic\[0\]\.passwords: svcrack's range 1099-1000 runs backwards: give its first number first \("1000-1099"\)/);
    expect(loadScenario(scenarioFile("svcrack-ok.yaml", crack("200", "1000-1099")), null).traffic[0]).toMatchObject({ kind: "tool", target: "200" });
    const walk = valid.replace("traffic:\n", "traffic:\n  - name: walk\n    kind: tool\n    tool: svwar\n    host: home\n    target: 349-300\n");
    expect(errorOf(() => loadScenario(scenarioFile("svwar-backward.yaml", walk), null)).message).toMatch(/svwar-backward\.yaml:\d+: traffic\[0\]\.target: range "349-300" ends before it starts/);
  });

  it("refuses TCP segment shapes on a flood over UDP, saying to give transport tcp", () => {
    const flood = (extra: string) => valid.replace("traffic:\n", `traffic:\n  - name: bot\n    kind: register-flood\n    host: home\n    ratePps: 10\n    durationSeconds: 5\n${extra}`);
    const split = errorOf(() => loadScenario(scenarioFile("split-udp.yaml", flood("    splitMethod: true\n")), null));
    expect(split.code).toBe("SCENARIO_INVALID");
    expect(split.message).toMatch(/split-udp\.yaml:\d+: traffic\[0\]\.splitMethod: splitMethod shapes TCP segments: give transport: tcp, or leave splitMethod out/);
    expect(errorOf(() => loadScenario(scenarioFile("batch-udp.yaml", flood("    requestsPerWrite: 4\n")), null)).message).toMatch(/traffic\[0\]\.requestsPerWrite: requestsPerWrite shapes TCP segments/);
    expect(loadScenario(scenarioFile("split-tcp.yaml", flood("    transport: tcp\n    splitMethod: true\n")), null).traffic[0]).toMatchObject({ transport: "tcp", splitMethod: true });
    // Over TLS the method is encrypted: cutting it is refused, writing several requests at once is not.
    expect(errorOf(() => loadScenario(scenarioFile("split-tls.yaml", flood("    transport: tls\n    splitMethod: true\n")), null)).message).toMatch(
      /split-tls\.yaml:\d+: traffic\[0\]\.splitMethod: over TLS the method is encrypted, so cutting it hides nothing/,
    );
    expect(loadScenario(scenarioFile("batch-tls.yaml", flood("    transport: tls\n    requestsPerWrite: 4\n")), null).traffic[0]).toMatchObject({ transport: "tls", requestsPerWrite: 4 });
    const samePort = valid.replace("pbx:\n", "pbx:\n  tlsPort: 5060\n");
    expect(samePort).not.toBe(valid);
    expect(errorOf(() => loadScenario(scenarioFile("tls-port.yaml", samePort), null)).message).toMatch(/tls-port\.yaml:\d+: pbx\.tlsPort: 5060 is the PBX's SIP port too/);
  });

  it("refuses a scenario without expectations: it could never fail", () => {
    const path = scenarioFile("no-expect.yaml", valid.replace(/expect:\n {2}- source: phone\n {4}registered: all\n/, ""));
    expect(errorOf(() => loadScenario(path, null)).message).toContain("at least one expectation");
  });

  it("resolves built-in names and says which exist for an unknown one", () => {
    expect(resolveScenarioRef("nat-office")).toMatch(/scenarios\/nat-office\.yaml$/);
    expect(errorOf(() => resolveScenarioRef("nat-ofice")).message).toMatch(/no built-in scenario "nat-ofice".*nat-office/);
  });
});
