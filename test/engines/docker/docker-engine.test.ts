import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runScenario } from "../../../src/cli/run-scenario.js";
import { DockerEngine } from "../../../src/engines/docker/docker-engine.js";
import { dockerRuntime, LABEL_APP } from "../../../src/engines/docker/docker-runtime.js";
import { buildLabImage } from "../../../src/engines/docker/lab-image.js";
import { compareEngines } from "../../../src/engines/compare-engines.js";
import { checkExpectations } from "../../../src/verdict/expectations.js";
import { computeOutcomes } from "../../../src/verdict/outcomes.js";
import type { RunComparison } from "../../../src/verdict/compare-runs.js";
import { listBuiltinScenarios } from "../../../src/scenario/catalogue.js";
import { loadScenario } from "../../../src/scenario/load-scenario.js";
import { ensureBuild } from "../../helpers/ensure-build.js";
import { scratchDirectory } from "../../helpers/scratch-directory.js";
import { dockerAvailable, requireDocker } from "../../helpers/docker-available.js";

/**
 * The docker engine against real Asterisk 22 and the real kernel. CI sets
 * SLAMLAB_REQUIRE_DOCKER=1 (after ci/setup-docker.sh), so a missing engine
 * fails there; elsewhere these tests skip with the reason printed.
 */
const available = await dockerAvailable("docker engine tests");
const root = join(import.meta.dirname, "..", "..", "..");
const engine = new DockerEngine();
const MINUTES = 60_000;

/** SLAMLAB_AGREEMENT_LOG: where each built-in's model/kernel agreement goes (JSON lines), for the README's figures. */
function recordAgreement(label: string, comparison: RunComparison): void {
  const log = process.env.SLAMLAB_AGREEMENT_LOG;
  if (!log) return;
  const { paired, agreeing, unpaired } = comparison;
  appendFileSync(log, `${JSON.stringify({ label, paired, agreeing, semantic: comparison.semantic.length, timingOnly: comparison.timingOnly.length, unpaired })}\n`);
}

describe.runIf(requireDocker && !available)("docker engine required", () => {
  it("finds a Docker engine (SLAMLAB_REQUIRE_DOCKER=1)", () => {
    expect.fail("SLAMLAB_REQUIRE_DOCKER=1 but no Docker engine answers: run bash ci/setup-docker.sh");
  });
});

describe.runIf(available)("docker engine: real Asterisk 22 and netfilter", () => {
  beforeAll(async () => {
    // Traffic containers run the compiled code; the image is content-hashed, so this is quick when built.
    ensureBuild();
    await buildLabImage();
  }, 10 * MINUTES);

  const runs = listBuiltinScenarios().flatMap((entry) => [null, ...entry.variants].map((variant) => ({ file: entry.file, variant, label: variant ? `${entry.name} [${variant}]` : entry.name })));

  it.each(runs)(
    "$label meets every expectation and agrees with the model engine",
    async ({ file, variant, label }) => {
      const scenario = loadScenario(file, variant);
      const { model, real, comparison } = await compareEngines(scenario, engine);
      const outcomes = computeOutcomes(real);
      const report = { result: real, outcomes, expectations: checkExpectations(scenario, outcomes) };
      recordAgreement(label, comparison);
      // Issue 5 wants no semantic difference. CI fails beyond one per thousand packets (the README
      // lists what the suite measured); timing-only differences are measured, not a pass/fail here.
      expect(comparison.paired).toBeGreaterThan(0);
      expect(comparison.semantic.length, JSON.stringify(comparison.semantic.slice(0, 3))).toBeLessThanOrEqual(Math.floor(comparison.paired / 1000));
      // A replay's first packet leaves when the model sends it, after seconds of an idle runner
      // (it reached the firewall 25 ms late when the raw sender started at the first send, and 2 to 9 ms
      // late when python was handed it at its time rather than ahead of it: raw-sender.ts). Handed ahead,
      // it reaches it about 0.7 ms after the model's time in most runs, but 10.1 ms once in a clean-clone
      // rehearsal of CI (2026-12-08): the bound catches a sender that starts late, not every late wake-up.
      for (const replay of scenario.traffic.filter((source) => source.kind === "replay")) {
        const firstAtUs = (run: typeof real) => run.verdicts.find((verdict) => verdict.source === replay.name && verdict.direction === "to-pbx")?.atUs ?? Number.NaN;
        expect(Math.abs(firstAtUs(real) - firstAtUs(model)), `${replay.name}'s first packet`).toBeLessThan(15_000);
      }
      const failures = report.expectations.filter((expectation) => !expectation.passed);
      expect(failures, JSON.stringify(report.result.environment)).toEqual([]);
      expect(report.result.environment.asterisk).toMatch(/^Asterisk 22\./);
      // The ruleset the kernel ran, with slamlab's verdict logging around it.
      expect(report.result.artifacts?.["iptables-save -c"]).toContain('--nflog-prefix "v:INPUT:0"');
      const environment = report.result.environment;
      expect(Number(environment["verdicts joined"])).toBeGreaterThan(0);
      // The kernel's own counters agree with the verdict log, record for record.
      expect(environment["verdicts logged (NFLOG records)"]).toBe(environment["verdicts logged (iptables counters)"]);
      // Phones that registered and were never dropped are still registered at the end, by Asterisk's own account.
      const kinds = scenarioKinds(file);
      const healthy = report.outcomes.filter((outcome) => kinds.get(outcome.source) === "phones" && outcome.registeredAgents > 0 && outcome.dropped === 0);
      if (healthy.length) expect(environment["asterisk contacts"]).not.toBe("none");
      if (label.startsWith("sip-over-tcp")) {
        // SIP over TCP packet for packet: handshakes, the ACKs answers carry or not, the blocked flood's tail probe and RTOs.
        expect(comparison.unpaired).toBeLessThanOrEqual(4);
        const handled = (run: typeof real, source: string) => run.securityEvents?.[source]?.ChallengeSent ?? 0;
        // Nine whole REGISTERs before the block; the cut flood's 40 unseen by the method match, 4 when every write counts;
        // over TLS all 40 when nothing counts the TLS port, 8 when its writes count (the handshake is two).
        const expected = label === "sip-over-tcp" ? [9, 40, 40] : [9, 4, 8];
        for (const run of [real, model]) {
          expect([handled(run, "whole"), handled(run, "split"), handled(run, "tls")], run.engine).toEqual(expected);
          // Whatever got through, each flood wrote its 40 requests to its connection.
          expect(run.requestsWritten, run.engine).toMatchObject({ whole: 40, split: 40, tls: 40 });
          // TLS: the ClientHello and the server's flight each one packet to netfilter (GSO, GRO), no method ever seen.
          const tls = run.verdicts.filter((verdict) => verdict.source === "tls");
          expect(tls.every((verdict) => verdict.dstPort === 5061 || verdict.srcPort === 5061), run.engine).toBe(true);
          expect(tls.filter((verdict) => verdict.sipMethod !== null), run.engine).toEqual([]);
          const first = run.verdicts.filter((verdict) => verdict.source === "split").slice(0, 3);
          expect(first.map((verdict) => [verdict.direction, verdict.protocol, verdict.sipMethod]), run.engine).toEqual([
            ["to-pbx", "tcp", null],
            ["from-pbx", "tcp", null],
            ["to-pbx", "tcp", null],
          ]);
          expect(run.verdicts.filter((verdict) => verdict.source === "split" && verdict.sipMethod === "REGISTER"), run.engine).toEqual([]);
        }
      }
      if (label.startsWith("ipv6-rotation")) {
        // IPv6 end to end: real Asterisk on its IPv6 address, real ip6tables, each request from the next address of the /64.
        expect(real.verdicts.every((verdict) => verdict.srcAddr.includes(":") && verdict.dstAddr.includes(":"))).toBe(true);
        const sequence = (run: typeof real) => run.verdicts.filter((verdict) => verdict.direction === "to-pbx").map((verdict) => `${verdict.srcAddr} ${verdict.verdict} ${verdict.rule.family ?? 4}:${verdict.rule.chain}:${verdict.rule.index}`);
        expect(sequence(real)).toEqual(sequence(model));
        expect(report.result.artifacts?.["ip6tables-save -c"]).toContain('--nflog-prefix "v:INPUT:0"');
      }
      if (label === "port-reuse") {
        // Packet by packet, as the model judged them: request i delivered or dropped, by the same rule.
        const sequence = (run: typeof real) => run.verdicts.filter((verdict) => verdict.direction === "to-pbx").map((verdict) => `${verdict.verdict} ${verdict.rule.chain}:${verdict.rule.index}`);
        expect(sequence(real)).toEqual(sequence(model));
      }
    },
    25 * MINUTES,
  );

  it(
    "runs real sipvicious svcrack and SIPp from a traffic container: svcrack is blocked, SIPp registers",
    async () => {
      const directory = scratchDirectory("tools");
      const yaml = [
        "name: real-tools",
        "description: sipvicious and SIPp themselves against Asterisk behind the default policy",
        "durationSeconds: 25",
        "firewall: { policy: default }",
        "pbx: { accounts: [{ users: 200-209, password: 'tools-{user}-Secret' }] }",
        "hosts:",
        "  scanner: { kind: addresses, addresses: [198.18.66.6] }",
        "  desk: { kind: addresses, addresses: [198.18.20.20] }",
        "traffic:",
        "  - { name: svcrack, kind: tool, tool: svcrack, host: scanner, target: '200', passwords: 1000-1199, startSeconds: 1 }",
        "  - { name: sipp, kind: tool, tool: sipp-register, host: desk, target: '201', password: tools-201-Secret, startSeconds: 2 }",
        // A second tool on the same address: its packets and registration are its own, by the port it binds.
        "  - { name: sipp-wrong, kind: tool, tool: sipp-register, host: desk, target: '202', password: not-the-password, startSeconds: 3 }",
        "expect:",
        "  - { source: svcrack, blockedWithinPackets: 10, keptBlocked: true }",
        "  - { source: sipp, registered: all, neverBlocked: true }",
        "  - { source: sipp-wrong, registered: none }",
      ].join("\n");
      writeFileSync(join(directory, "tools.yaml"), `${yaml}\n`);
      const report = await runScenario(loadScenario(join(directory, "tools.yaml"), null), engine);
      expect(report.expectations.filter((expectation) => !expectation.passed)).toEqual([]);
      expect(report.outcomes.find((outcome) => outcome.source === "svcrack")!.sent).toBeGreaterThan(20);
      for (const source of ["sipp", "sipp-wrong"]) expect(report.outcomes.find((outcome) => outcome.source === source)!.sent, source).toBeGreaterThanOrEqual(2);
      expect(report.result.environment["asterisk contacts"]).toContain("201");
    },
    5 * MINUTES,
  );

  it(
    "reads what real svcrack and svwar found from their own output, kept in the report: a weak numeric password with its guess, and no extension from Asterisk",
    async () => {
      const directory = scratchDirectory("tool-findings");
      writeFileSync(join(directory, "open.rules"), "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n");
      const yaml = [
        "name: real-attack-outcome",
        "description: real svcrack finds a weak numeric password and real svwar walks extensions, with no firewall",
        "durationSeconds: 20",
        "firewall: { ruleset: open.rules }",
        "pbx: { accounts: [{ users: 200-209, password: 'tools-{user}-Secret' }, { users: 210-210, password: '1007' }] }",
        "hosts:",
        "  scanner: { kind: addresses, addresses: [198.18.66.6] }",
        "  walker: { kind: addresses, addresses: [198.18.66.7] }",
        "traffic:",
        "  - { name: svcrack, kind: tool, tool: svcrack, host: scanner, target: '210', passwords: 1000-1099, startSeconds: 1 }",
        "  - { name: svwar, kind: tool, tool: svwar, host: walker, target: '198-212', startSeconds: 1 }",
        "expect:",
        "  - { source: svcrack, passwordFound: true }",
        "  - { source: svwar, extensionsFound: 0 }",
      ].join("\n");
      writeFileSync(join(directory, "tools.yaml"), `${yaml}\n`);
      const report = await runScenario(loadScenario(join(directory, "tools.yaml"), null), engine);
      expect(report.expectations.filter((expectation) => !expectation.passed)).toEqual([]);
      const crack = report.attacks!.find((attack) => attack.source === "svcrack")!;
      expect(crack.passwordsFound).toMatchObject([{ account: "210", detail: 'password "1007", its guess 8 (svcrack\'s own report)' }]);
      expect(crack.passwordsFound[0]!.atUs).toBeGreaterThan(1_000_000);
      expect(report.result.artifacts!["svcrack output (svcrack)"]).toMatch(/\|\s*210\s*\|\s*1007\s*\|/);
      // svwar 0.3.3 ignores -b: its packets still leave from its own address, so they are its own.
      const walk = report.result.verdicts.filter((verdict) => verdict.source === "svwar" && verdict.direction === "to-pbx");
      expect(walk.length).toBeGreaterThanOrEqual(2);
      expect(walk.every((verdict) => verdict.srcAddr === "198.18.66.7")).toBe(true);
      // Asterisk answers the random extension and a real one with the same 401: svwar calls it an unknown response and stops.
      expect(report.result.artifacts!["svwar output (svwar)"]).toMatch(/We got an unknown response/);
    },
    5 * MINUTES,
  );

  it(
    "placement router: the rules run in the router's FORWARD chain in front of the PBX",
    async () => {
      const directory = scratchDirectory("router");
      const yaml = [
        "name: router-placement",
        "description: the generated rules on a router in front of the PBX",
        "durationSeconds: 20",
        "firewall: { policy: { placement: router } }",
        "pbx: { accounts: [{ users: 200-209, password: 'router-{user}-Secret' }] }",
        "hosts: { scanner: { kind: addresses, addresses: [198.18.77.7] }, desk: { kind: addresses, addresses: [198.18.20.20] } }",
        "traffic:",
        "  - { name: flood, kind: register-flood, host: scanner, ratePps: 20, durationSeconds: 10, startSeconds: 1, onAnswerLikeRandom: walk-on }",
        "  - { name: phone, kind: phones, host: desk, accounts: 201-201, startSeconds: 1 }",
        "expect:",
        "  - { source: flood, blockedWithinPackets: 10, keptBlocked: true }",
        "  - { source: phone, registered: all, neverBlocked: true }",
      ].join("\n");
      writeFileSync(join(directory, "router.yaml"), `${yaml}\n`);
      const report = await runScenario(loadScenario(join(directory, "router.yaml"), null), engine);
      expect(report.expectations.filter((expectation) => !expectation.passed)).toEqual([]);
      const drops = report.result.verdicts.filter((verdict) => verdict.verdict === "dropped");
      expect(drops.length).toBeGreaterThan(0);
      expect(new Set(drops.map((verdict) => verdict.rule.chain))).toEqual(new Set(["SLAM-CHECK", "SLAM-BLOCK"]));
      expect(report.result.environment.placement).toBe("router");
      expect(report.result.verdicts.filter((verdict) => verdict.rule.index === 0).every((verdict) => verdict.rule.chain === "FORWARD")).toBe(true);
    },
    5 * MINUTES,
  );

  it(
    "quotes iptables when it rejects a ruleset the parser accepted, and leaves nothing behind",
    async () => {
      const directory = scratchDirectory("rejected");
      writeFileSync(
        join(directory, "bad.rules"),
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p udp --dport 5060 -m recent --rcheck --seconds 60 --hitcount 65536 --name X -j DROP\nCOMMIT\n",
      );
      const yaml = `name: rejected\ndescription: iptables refuses this ruleset\ndurationSeconds: 10\nfirewall: { ruleset: bad.rules }\npbx: { accounts: [{ users: 200-201, password: p }] }\nhosts: { home: { kind: addresses, addresses: [198.18.1.1] } }\ntraffic: [{ name: p, kind: phones, host: home, accounts: 200-200 }]\nexpect: [{ source: p, registered: all }]\n`;
      writeFileSync(join(directory, "rejected.yaml"), yaml);
      await expect(engine.run(loadScenario(join(directory, "rejected.yaml"), null))).rejects.toThrow(/iptables-restore rejected the ruleset .*(line|Invalid argument)/is);
      expect(await labLeftovers()).toEqual({ containers: 0, networks: 0, logDirectories: 0 });
    },
    5 * MINUTES,
  );

  it(
    "a run killed midway (SIGTERM) removes its containers, networks and host rules",
    async () => {
      const child = spawn("node", [join(root, "bin", "slamlab.js"), "simulate", "--scenario", "port-reuse", "--engine", "docker"], { stdio: "ignore" });
      const deadline = Date.now() + 2 * MINUTES;
      while ((await labLeftovers()).containers < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await labLeftovers()).containers).toBeGreaterThanOrEqual(4);
      child.kill("SIGTERM");
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      expect(code).toBe(143);
      expect(await labLeftovers()).toEqual({ containers: 0, networks: 0, logDirectories: 0 });
      expect(execFileSync("iptables", ["-S", "DOCKER-USER"], { encoding: "utf8" })).not.toContain("slamlab run");
    },
    5 * MINUTES,
  );
});

function scenarioKinds(file: string): Map<string, string> {
  return new Map(loadScenario(file, null).traffic.map((spec) => [spec.name, spec.kind]));
}

async function labLeftovers(): Promise<{ containers: number; networks: number; logDirectories: number }> {
  const dockerode = (await dockerRuntime()).container.dockerode;
  const filters = { label: [`${LABEL_APP}=slamlab`] };
  return {
    containers: (await dockerode.listContainers({ all: true, filters })).length,
    networks: (await dockerode.listNetworks({ filters })).length,
    logDirectories: readdirSync(tmpdir()).filter((name) => /^slamlab-[0-9a-f]{8}-/.test(name)).length,
  };
}
