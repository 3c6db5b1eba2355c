import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileFirewall } from "../../src/engines/model/netfilter/interpreter.js";
import { defaultKernelSettings } from "../../src/engines/model/kernel-settings.js";
import { builtinPolicies, resolvePolicy } from "../../src/firewall/builtin-policies.js";
import { generateRuleset } from "../../src/firewall/generate-ruleset.js";
import { generateHostRestore } from "../../src/firewall/generate-host-restore.js";
import { generateScript } from "../../src/firewall/generate-script.js";
import { parseRuleset } from "../../src/firewall/parse-ruleset.js";
import { PolicyError } from "../../src/firewall/policy-error.js";
import { validatePolicy } from "../../src/firewall/validate-policy.js";
import { PBX, START, contextAt, udpPacket } from "../helpers/firewall.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";

const target = { pbxAddress: PBX };

function modelOf(policyInput: Record<string, unknown>) {
  const text = generateRuleset(validatePolicy(policyInput, "test"), target);
  return compileFirewall(parseRuleset(text), { settings: defaultKernelSettings, tables: new Map() });
}

const variants: Record<string, Record<string, unknown>> = {
  ...Object.fromEntries(Object.entries(builtinPolicies).map(([name, input]) => [name, input as Record<string, unknown>])),
  u32: { methodMatch: "u32" },
  tcpAndUdp: { sip: { ports: [5060, 5080], transports: ["udp", "tcp"] } },
  tcpWrites: { sip: { transports: ["udp", "tcp"], tcpCount: "writes" } },
  tls: { sip: { transports: ["udp", "tcp"] }, tls: {} },
  tlsPorts: { tls: { ports: [5061, 5063] } },
  router: { placement: "router", logging: { kind: "log", ratePerMinute: 6 } },
  allowlisted: { allowSites: ["198.18.10.0/24", "192.0.2.7"] },
};

describe("generated rulesets", () => {
  it.each(Object.keys(variants))("%s: the model reads back what the generator wrote", (name) => {
    expect(() => modelOf(variants[name]!)).not.toThrow();
  });

  it.each(["default", "u32"])("%s: drops the 10th REGISTER in 60 s and nothing before it", (name) => {
    const firewall = modelOf(variants[name]!);
    const results = Array.from({ length: 12 }, (_, i) => firewall.judge("INPUT", udpPacket("198.18.1.1"), contextAt(START + i)).accepted);
    expect(results.indexOf(false)).toBe(9);
    expect(results.slice(9).every((accepted) => !accepted)).toBe(true);
  });

  it("does not count INVITE by default, nor a REGISTER mentioned inside another request", () => {
    const firewall = modelOf({});
    const invite = "INVITE sip:200@198.51.100.10 SIP/2.0\r\nSubject: REGISTER\r\n\r\n";
    const results = Array.from({ length: 30 }, (_, i) => firewall.judge("INPUT", udpPacket("198.18.1.1", invite), contextAt(START + i)).accepted);
    expect(results.every(Boolean)).toBe(true);
  });

  it("never counts an allowlisted site", () => {
    const firewall = modelOf(variants.allowlisted!);
    const results = Array.from({ length: 50 }, (_, i) => firewall.judge("INPUT", udpPacket("198.18.10.77"), contextAt(START + i)).accepted);
    expect(results.every(Boolean)).toBe(true);
  });

  it("explains every rule with a comment", () => {
    const text = generateRuleset(validatePolicy(builtinPolicies.strict, "strict"), target);
    const rules = text.split("\n").filter((line) => line.startsWith("-A "));
    expect(rules.length).toBeGreaterThan(5);
    for (const rule of rules) expect(rule).toMatch(/--comment /);
  });

  it("emits no ESTABLISHED accept: counting must see flows conntrack already knows", () => {
    expect(generateRuleset(validatePolicy({}, "default"), target)).not.toMatch(/ESTABLISHED/);
  });

  it.each(Object.keys(variants))("%s: the host script is valid bash and the host restore file declares no built-in chain", (name) => {
    const policy = validatePolicy(variants[name]!, name);
    const directory = scratchDirectory("script");
    const path = join(directory, "slamming.sh");
    writeFileSync(path, generateScript(policy, target));
    execFileSync("bash", ["-n", path]);
    const restore = generateHostRestore(policy, target);
    expect(restore).not.toMatch(/^:(INPUT|FORWARD|OUTPUT) /m);
    expect(restore).not.toMatch(/^-[ADIRFXP] (INPUT|FORWARD|OUTPUT) /m);
    expect(restore).toContain(":SLAM-ENTRY - [0:0]");
  });
});

describe("policy validation", () => {
  const invalid = (input: Record<string, unknown>) => {
    try {
      validatePolicy(input, "policy.yaml");
    } catch (error) {
      expect(error).toBeInstanceOf(PolicyError);
      return (error as Error).message;
    }
    throw new Error("expected the policy to be rejected");
  };

  it("says a hitcount is above what xt_recent accepts", () => {
    expect(invalid({ matcher: { kind: "recent", hits: 65536, seconds: 60 } })).toMatch(/policy\.matcher\.hits: xt_recent accepts --hitcount up to 65535/);
  });

  it("rejects allowSites entries that are not CIDRs, so nothing reaches a rule or a shell", () => {
    expect(invalid({ allowSites: ["192.0.2.0/24 -j ACCEPT"] })).toMatch(/policy\.allowSites\[0\].*CIDR/);
    expect(invalid({ allowSites: ["$(reboot)"] })).toMatch(/allowSites\[0\]/);
  });

  it("rejects list names that would break the rule or the /proc file", () => {
    expect(invalid({ matcher: { kind: "recent", hits: 10, seconds: 60, name: 'SIP" -j ACCEPT' } })).toMatch(/matcher\.name/);
  });

  it("checks fields against each other: a long-term block shorter than the block", () => {
    expect(invalid({ blockSeconds: 600, escalation: { enabled: true, blockSeconds: 60 } })).toMatch(/escalation\.blockSeconds/);
  });

  it("refuses a TLS port also counted as SIP over TCP: each write would count twice", () => {
    expect(invalid({ sip: { ports: [5060, 5061], transports: ["udp", "tcp"] }, tls: {} })).toMatch(/policy\.tls\.ports: 5061 is counted as SIP over TCP too/);
    expect(() => validatePolicy({ sip: { ports: [5060, 5061] }, tls: {} }, "policy.yaml")).not.toThrow();
  });

  it("counts a TLS write to the TLS port, whatever its bytes, and nothing else there", () => {
    const text = generateRuleset(validatePolicy({ tls: {} }, "test"), target);
    expect(text).toMatch(/-A INPUT -d 198\.51\.100\.10\/32 -p tcp -m tcp --dport 5061 .*-j SLAM-CHECK/);
    expect(text).toMatch(/-A SLAM-CHECK -p tcp -m tcp --dport 5061 --tcp-flags PSH PSH .*-j SLAM-COUNT/);
  });

  it("names an unknown built-in policy and lists the real ones", () => {
    expect(() => resolvePolicy("strictest", "scenario.yaml: firewall.policy")).toThrow(/no built-in policy "strictest"; built-in policies are default, reference-2010, hashlimit, strict/);
  });

  it("merges a scenario's fields over a built-in base, and a matcher of another kind replaces the base's", () => {
    const { policy } = resolvePolicy({ extends: "strict", matcher: { kind: "hashlimit", rate: 5 } }, "test");
    expect(policy.methods).toEqual(["REGISTER", "INVITE"]);
    expect(policy.matcher).toEqual({ kind: "hashlimit", rate: 5, per: "minute", burst: 5, expireSeconds: 120, name: "SIP" });
  });
});
