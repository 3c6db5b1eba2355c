import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.js";
import { parse as parseJunit, type TestSuites } from "junit2json";
import { ensureBuild } from "../helpers/ensure-build.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";
import { ethernet, sipDatagram, writeTemp } from "../helpers/capture-files.js";
import { scenarioOf } from "../helpers/scenario.js";
import { pcapFile } from "../../src/capture/pcap-writer.js";
import { encodeIpv6Udp } from "../../src/net/ipv6.js";
import { parseAddress } from "../../src/net/address-number.js";
import { runModel } from "../../src/engines/model/model-engine.js";
import { loadReplays } from "../../src/traffic/replay/load-replays.js";

const root = join(import.meta.dirname, "..", "..");

const run = runCli;

const work = scratchDirectory("cli");

describe("slamlab simulate", () => {
  it("runs nat-office and prints a per-source table with PASS per expectation, without colours off a TTY", async () => {
    const { code, stdout } = await run("simulate", "--scenario", "nat-office");
    expect(code).toBe(0);
    expect(stdout).toMatch(/office-phones\s+100\s+200\s+200\s+0/);
    expect(stdout).toContain("PASS  office-phones  registered: all");
    expect(stdout).not.toContain("\u001b[");
  });

  it("exits 1 when an expectation fails, and the JUnit file says which", async () => {
    const scenario = join(work, "failing.yaml");
    writeFileSync(
      scenario,
      readFileSync(join(root, "scenarios", "nat-office.yaml"), "utf8").replace("allowSites: [198.18.10.1/32]", "allowSites: []"),
    );
    const junit = join(work, "failing.xml");
    const { code, stdout } = await run("simulate", "--scenario", scenario, "--junit", junit);
    expect(code).toBe(1);
    expect(stdout).toContain("FAIL  office-phones  registered: all");
    expect(readFileSync(junit, "utf8")).toMatch(/<failure type="ExpectationFailed" message="office-phones: expected registered: all; got 0 of 100 agents registered/);
  });

  it("writes a JSON report with outcomes and, on request, every verdict", async () => {
    const json = join(work, "report.json");
    await run("simulate", "--scenario", "port-reuse", "--json", json, "--verdicts", "--seed", "3");
    const report = JSON.parse(readFileSync(json, "utf8"));
    expect(report).toMatchObject({ scenario: "port-reuse", seed: 3, passed: true, engine: "model" });
    const requests = report.verdicts.filter((verdict: { direction: string }) => verdict.direction === "to-pbx");
    expect(requests[9]).toMatchObject({ verdict: "dropped", rule: { chain: "SLAM-BLOCK" }, ctState: "ESTABLISHED" });
    expect(report.outcomes[0]).toMatchObject({ source: "svwar-fixed-port", packetsToBlock: 10 });
  });

  it("writes delivered and dropped pcapng files whose packet comments name the rule", async () => {
    const directory = join(work, "pcaps");
    const { code } = await run("simulate", "--scenario", "port-reuse", "--pcap-dir", directory);
    expect(code).toBe(0);
    const dropped = readFileSync(join(directory, "dropped.pcapng"));
    expect(dropped.readUInt32LE(0)).toBe(0x0a0d0d0a);
    expect(dropped.toString("latin1")).toContain("slamlab: dropped by SLAM-BLOCK:2 DROP");
  });

  it.each([
    [["simulate", "--scenario", "no-such-scenario"], /no built-in scenario "no-such-scenario"/],
    [["simulate", "--scenario", "nat-office", "--variant", "nope"], /no variant "nope"; variants are no-allowlist/],
    [["simulate", "--scenario", "nat-office", "--seed", "-4"], /--seed -4: expected a whole number/],
    [["simulate", "--scenario", "/nonexistent/x.yaml"], /no such file/],
  ])("bad input %j exits 2 with a message that says what to do", async (args, message) => {
    const { code, stderr } = await run(...args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it("makes the missing folders of an output, as `--junit out/junit.xml` on a fresh clone needs", async () => {
    const directory = scratchDirectory("parents");
    const junit = join(directory, "out", "ci", "junit.xml");
    const { code, stderr } = await run("simulate", "--scenario", "nat-office", "--junit", junit, "--json", join(directory, "out", "run.json"));
    expect(code, stderr).toBe(0);
    expect(readFileSync(junit, "utf8")).toContain("<testsuites");
    expect(JSON.parse(readFileSync(join(directory, "out", "run.json"), "utf8"))).toMatchObject({ scenario: "nat-office" });
  });

  it.each([
    ["a folder", (directory: string) => directory, /--json .*: is a folder; give a file path/],
    ["under a file", (directory: string) => join(directory, "file.txt", "report.json"), /file\.txt is not a folder/],
  ])("refuses an output path that is %s with exit 2, before the run, and leaves nothing", async (_kind, pathIn, message) => {
    const directory = scratchDirectory("bad-output");
    writeFileSync(join(directory, "file.txt"), "mine\n");
    const { code, stderr, stdout } = await run("simulate", "--scenario", "nat-office", "--json", pathIn(directory), "--junit", join(directory, "new", "j.xml"));
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/bug in slamlab/);
    expect(stdout).toBe("");
    expect(readdirSync(directory)).toEqual(["file.txt"]);
  });

  it("writes into a device given as an output and never replaces it; a full device is exit 2 and the other outputs are not written", async () => {
    const directory = scratchDirectory("devices");
    const made = spawnSync("mknod", [join(directory, "null"), "c", "1", "3"]).status === 0 && spawnSync("mknod", [join(directory, "full"), "c", "1", "7"]).status === 0;
    if (!made) return void console.log("skipping the device output check: mknod needs root");
    expect((await run("simulate", "--scenario", "nat-office", "--json", join(directory, "null"))).code).toBe(0);
    expect(statSync(join(directory, "null")).isCharacterDevice()).toBe(true);
    const full = await run("simulate", "--scenario", "nat-office", "--json", join(directory, "full"), "--junit", join(directory, "j.xml"));
    expect(full.code).toBe(2);
    expect(full.stderr).toMatch(/--json .*full: cannot write \(no space left on the device\)/);
    expect(statSync(join(directory, "full")).isCharacterDevice()).toBe(true);
    expect(readdirSync(directory).sort()).toEqual(["full", "null"]);
  });

  it("writes through a symlink to the file it names and keeps the link", async () => {
    const directory = scratchDirectory("links");
    symlinkSync(join(directory, "real.json"), join(directory, "link.json"));
    expect((await run("simulate", "--scenario", "nat-office", "--json", join(directory, "link.json"))).code).toBe(0);
    expect(lstatSync(join(directory, "link.json")).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(join(directory, "real.json"), "utf8"))).toMatchObject({ scenario: "nat-office" });
  });

  it("writes into what a link to /proc/self/fd/1 names (the shell's stdout) and keeps the link", () => {
    const directory = scratchDirectory("proc-link");
    const link = join(directory, "o.rules");
    symlinkSync("/proc/self/fd/1", link);
    const result = spawnSync(process.execPath, [join(root, "bin", "slamlab.js"), "firewall", "generate", "--policy", "default", "--out", link], { encoding: "utf8" });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(":SLAM-ENTRY - [0:0]");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it("refuses an output that is one of the run's inputs or another output, and changes neither", async () => {
    const directory = scratchDirectory("clobber");
    const scenario = join(directory, "office.yaml");
    const text = readFileSync(join(root, "scenarios", "nat-office.yaml"), "utf8");
    writeFileSync(scenario, text);
    symlinkSync(scenario, join(directory, "alias.json"));
    const asInput = await run("simulate", "--scenario", scenario, "--json", join(directory, "alias.json"));
    expect(asInput.code).toBe(2);
    expect(asInput.stderr).toMatch(/--json .*alias\.json: is also an input of this command/);
    expect(readFileSync(scenario, "utf8")).toBe(text);
    const twice = await run("simulate", "--scenario", scenario, "--json", join(directory, "x"), "--junit", join(directory, ".", "x"));
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/--json and --junit both write/);
    const policy = join(directory, "policy.yaml");
    writeFileSync(policy, "matcher: { kind: recent, hits: 10, seconds: 60 }\n");
    const generate = await run("firewall", "generate", "--policy", policy, "--out", policy);
    expect(generate.code).toBe(2);
    expect(readFileSync(policy, "utf8")).toBe("matcher: { kind: recent, hits: 10, seconds: 60 }\n");
    expect(readdirSync(directory).sort()).toEqual(["alias.json", "office.yaml", "policy.yaml"]);
  });
});

describe("limits instead of crashes", () => {
  const flood = (hosts: string, ratePps: number, seconds: number) => `name: big
description: a flood too big for memory
durationSeconds: ${seconds}
firewall: { policy: default }
hosts:
  scanner: ${hosts}
traffic:
  - { name: flood, kind: register-flood, host: scanner, ratePps: ${ratePps}, durationSeconds: ${seconds} }
expect: [{ source: flood, blockedWithinPackets: 10 }]
`;

  it.each([
    ["kept per packet (--verdicts): one address at 100,000 pps for 300 s", "{ kind: addresses, addresses: [198.18.66.6] }", 100_000, 300, true, /about 60,000,000 packets \(largest: traffic flood, 100,000 pps x 300 s x 1 address\(es\) x 2 with answers\)/, /over the budget of 5,000,000 \(about 1\.5 GB of memory with a record kept per packet\).*raise the budget with --max-packets \d+ \(about 18\.0 GB kept\)/],
    ["kept per packet (--verdicts): 65,536 addresses at 20 pps for 10 s", "{ kind: range, cidr: 198.18.0.0/15, count: 65536 }", 20, 10, true, /about 26,214,400 packets .*65,536 address\(es\)/, /over the budget of 5,000,000 .*raise the budget with --max-packets \d+/],
    ["streamed: 65,536 addresses at 200 pps for 10 s", "{ kind: range, cidr: 198.18.0.0/15, count: 65536 }", 200, 10, false, /about 262,144,000 packets .*65,536 address\(es\)/, /over the budget of 200,000,000 \(about 56 minutes at the model's 60,000 packets a second\).*--max-packets 262144000 \(about 1\.2 hours\)/],
  ])("refuses a run over the packet budget at once, with the estimate and --max-packets: %s", async (_what, hosts, ratePps, seconds, kept, estimate, budget) => {
    const directory = scratchDirectory("budget");
    const file = join(directory, "big.yaml");
    writeFileSync(file, flood(hosts, ratePps, seconds));
    const started = performance.now();
    const { code, stdout, stderr } = await run("simulate", "--scenario", file, ...(kept ? ["--verdicts", "--json", join(directory, "report.json")] : []));
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(estimate);
    expect(stderr).toMatch(budget);
    expect(existsSync(join(directory, "report.json"))).toBe(false);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("says where a range is too small for its count, instead of an address error with no file", async () => {
    const file = join(scratchDirectory("range"), "range.yaml");
    writeFileSync(file, flood("{ kind: range, cidr: 198.18.0.0/16, count: 65536 }", 20, 10));
    const { code, stderr } = await run("simulate", "--scenario", file);
    expect(code).toBe(2);
    expect(stderr).toMatch(/range\.yaml:6: hosts\.scanner\.count: 198\.18\.0\.0\/16 holds fewer than 65536 host addresses/);
  });

  it.each(["register-flood", "nat-office"])("capture synth --kind %s --count 10000 makes a capture: its addresses fit the count", async (kind) => {
    const out = join(scratchDirectory("synth"), `${kind}.pcap`);
    const { code, stdout, stderr } = await run("capture", "synth", "--kind", kind, "--count", "10000", "--duration", "1", "--out", out);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/: \d+ packets/);
    const inspected = await run("capture", "inspect", out);
    expect(inspected.code).toBe(0);
  }, 60_000);

  it("--max-packets sets the budget either way", async () => {
    expect((await run("simulate", "--scenario", "nat-office", "--max-packets", "100")).stderr).toMatch(/over the budget of 100 /);
    expect((await run("simulate", "--scenario", "nat-office", "--max-packets", "100000")).code).toBe(0);
    expect((await run("test", join(root, "scenarios", "nat-office.yaml"), "--max-packets", "100")).code).toBe(2);
  });

  it.each([
    [["simulate", "--scenario", "/dev/zero"], /\/dev\/zero: more than 64 MiB; a scenario YAML file/],
    [["firewall", "generate", "--policy", "/dev/zero"], /\/dev\/zero: more than 64 MiB; a policy file/],
    [["firewall", "check", "/dev/zero"], /\/dev\/zero: more than 64 MiB; an iptables-save/],
    [["firewall", "check", "/tmp"], /\/tmp: is a folder, not a file; give an iptables-save/],
    [["simulate", "--scenario", "/tmp"], /\/tmp: is a folder, not a file; give a scenario YAML file/],
    [["tune", "--workers", "1000"], /--workers 1000: this machine has \d+ cores?; give at most \d+, or add --force-workers/],
    [["tune", "--random", "0"], /--random 0: expected at least 1 setting/],
    [["capture", "synth", "--kind", "register-flood", "--count", "10000", "--rate", "10000", "--duration", "3600", "--out", "/tmp/never-written.pcap"], /about 720,000,000,000 packets .*--max-packets/],
  ])("%j is exit 2 with what is wrong, not a hang, a heap crash or exit 4", async (args, message) => {
    const { code, stderr } = await run(...args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/bug in slamlab/);
  });
});

describe("slamlab test, scenarios, firewall", () => {
  it("runs every built-in scenario and variant, writes JUnit, exits 0", async () => {
    const junit = join(work, "suite.xml");
    const { code, stdout } = await run("test", join(root, "scenarios"), "--quiet", "--junit", junit);
    expect(code).toBe(0);
    expect(stdout).toMatch(/PASS {2}nat-office \[no-allowlist\]/);
    expect(stdout).toMatch(/(\d+) scenario runs passed, 0 failed/);
    expect(readFileSync(junit, "utf8")).toMatch(/<testsuites name="slamlab" tests="\d+" failures="0" errors="0" time="/);
  });

  it("goes on past a scenario that does not load, reports it as that scenario's JUnit <error>, and exits 2; the JUnit reads in a real consumer (junit2json)", async () => {
    const directory = scratchDirectory("suite");
    writeFileSync(join(directory, "broken.yaml"), "name: broken\ndescription: no traffic\n");
    writeFileSync(join(directory, "office.yaml"), readFileSync(join(root, "scenarios", "nat-office.yaml"), "utf8"));
    writeFileSync(
      join(directory, "open-office.yaml"),
      readFileSync(join(root, "scenarios", "nat-office.yaml"), "utf8").replace("allowSites: [198.18.10.1/32]", "allowSites: []").replace("name: nat-office", "name: open-office"),
    );
    const junit = join(directory, "out", "junit.xml");
    const { code, stdout } = await run("test", directory, "--quiet", "--junit", junit);
    expect(code).toBe(2);
    expect(stdout).toMatch(/ERROR .*broken\.yaml: \[SCENARIO_INVALID\]/);
    expect(stdout).toMatch(/3 scenario runs passed, 1 failed, 1 did not load/);
    const parsed = (await parseJunit(readFileSync(junit, "utf8"))) as TestSuites;
    expect(parsed).toMatchObject({ name: "slamlab", failures: 2, errors: 1 });
    const suites = parsed.testsuite!;
    expect(suites.map((suite) => suite.name)).toEqual(["nat-office", "nat-office [no-allowlist]", "open-office", "open-office [no-allowlist]", join(directory, "broken.yaml")]);
    const failed = suites.find((suite) => suite.name === "open-office")!;
    expect(failed).toMatchObject({ tests: 2, failures: 2, errors: 0 });
    expect(failed["system-out"]![0]).toContain("model engine, seed 7");
    const failure = failed.testcase![0]!;
    expect(failure).toMatchObject({ name: "office-phones: registered: all", classname: "slamlab.open-office" });
    expect(failure.time).toBeGreaterThan(0);
    expect(failure.failure![0]).toMatchObject({ type: "ExpectationFailed", message: "office-phones: expected registered: all; got 0 of 100 agents registered" });
    expect(failure.failure![0]!.inner).toMatch(/expected: office-phones registered: all\nhappened: 0 of 100 agents registered\nbecause: {2}every phone in an allowlisted office must register/);
    const broken = suites.at(-1)!;
    expect(broken).toMatchObject({ tests: 1, errors: 1 });
    expect(broken.testcase![0]!.error![0]).toMatchObject({ type: "SCENARIO_INVALID" });
    expect(broken.testcase![0]!.error![0]!.inner).toContain("broken.yaml:1: durationSeconds");
    expect(readFileSync(junit, "utf8")).toMatch(/<testcase name="office-phones: registered: all" classname="slamlab\.nat-office" file="[^"]*office\.yaml" time="/);
  });

  it("--workers runs model runs side by side on threads and prints what one thread does, in the suite's order, a broken file at its place", async () => {
    const directory = scratchDirectory("suite-workers");
    writeFileSync(join(directory, "a-office.yaml"), readFileSync(join(root, "scenarios", "nat-office.yaml"), "utf8"));
    writeFileSync(join(directory, "b-broken.yaml"), "name: broken\ndescription: no traffic\n");
    for (const name of ["c-register-flood", "d-distributed-scan", "e-broken-phone"]) writeFileSync(join(directory, `${name}.yaml`), readFileSync(join(root, "scenarios", `${name.slice(2)}.yaml`), "utf8"));
    // Worker threads load the compiled worker: the built CLI runs it, as users do.
    ensureBuild();
    const built = (...args: string[]) => {
      const result = spawnSync(process.execPath, [join(root, "bin", "slamlab.js"), ...args], { encoding: "utf8" });
      return { code: result.status, stdout: result.stdout, stderr: result.stderr };
    };
    const one = built("test", directory, "--quiet");
    const two = built("test", directory, "--quiet", "--workers", "3");
    expect(one.code, one.stderr).toBe(2);
    expect(two.code, two.stderr).toBe(2);
    expect(two.stdout).toBe(one.stdout);
    expect(two.stdout.split("\n").filter((line) => /^(PASS|FAIL|ERROR)/.test(line)).map((line) => line.replace(/:.*$/, "").replace(directory, "DIR"))).toEqual([
      "PASS  nat-office",
      "PASS  nat-office [no-allowlist]",
      "ERROR DIR/b-broken.yaml",
      "PASS  register-flood",
      "PASS  distributed-scan",
      "PASS  distributed-scan [hashlimit]",
      "PASS  broken-phone",
      "PASS  broken-phone [office-allowlisted]",
    ]);
    expect((await run("test", directory, "--workers", "2", "--engine", "docker")).stderr).toMatch(/--workers runs model runs side by side; docker runs share the machine's one lab/);
    expect((await run("test", directory, "--workers", "0")).code).toBe(2);
  });

  it("lists the built-in scenarios with their descriptions and variants", async () => {
    const { stdout } = await run("scenarios");
    expect(stdout).toMatch(/^nat-office\s+100 phones behind one office NAT/m);
    expect(stdout).toContain("--variant no-allowlist");
  });

  it("generates iptables-restore text and a script from a policy file", async () => {
    const policy = join(work, "policy.yaml");
    writeFileSync(policy, "matcher: { kind: recent, hits: 5, seconds: 30 }\nallowSites: [192.0.2.0/24]\n");
    const rules = await run("firewall", "generate", "--policy", policy);
    expect(rules.code).toBe(0);
    expect(rules.stdout).toContain("--rcheck --seconds 30 --hitcount 5");
    expect(rules.stdout).toContain("-A SLAM-CHECK -s 192.0.2.0/24");
    const script = await run("firewall", "generate", "--policy", "strict", "--format", "script");
    expect(script.stdout.startsWith("#!/usr/bin/env bash")).toBe(true);
  });

  it.each(["\n198.51.100.10", "198.51.100.10 ", "010.0.0.1", "192.168.1.08"])("refuses --pbx %j: an address iptables or bash would read otherwise, or a line break into the script", async (pbx) => {
    for (const format of ["iptables-restore", "script"]) {
      const { code, stdout, stderr } = await run("firewall", "generate", "--policy", "default", "--format", format, "--pbx", pbx);
      expect(code).toBe(2);
      expect(stdout).toBe("");
      expect(stderr).toMatch(/--pbx .*: expected an IPv4 address a\.b\.c\.d \(no spaces, no leading zeros\)/);
    }
  });

  it("refuses --pbx6 that is not an IPv6 address, and with a format that writes IPv4-only iptables rules", async () => {
    for (const pbx6 of ["2001:db8::1::2", "\n2001:db8::10", "198.51.100.10"]) {
      const { code, stdout, stderr } = await run("firewall", "generate", "--policy", "default", "--format", "nft", "--pbx6", pbx6);
      expect(code).toBe(2);
      expect(stdout).toBe("");
      expect(stderr).toMatch(/--pbx6 .*; give the PBX's IPv6 address, such as 2001:db8::10/);
    }
    const iptables = await run("firewall", "generate", "--policy", "default", "--format", "script", "--pbx6", "2001:db8::10");
    expect(iptables.code).toBe(2);
    expect(iptables.stderr).toMatch(/--pbx6 needs --format nft or nft-script/);
    const nft = await run("firewall", "generate", "--policy", "default", "--format", "nft", "--pbx6", "2001:DB8:0::10");
    expect(nft.code, nft.stderr).toBe(0);
    expect(nft.stdout).toMatch(/ip6 daddr 2001:db8::10 udp dport 5060 jump slam_check6/);
  });

  it("rejects an invalid policy file with the field and the kernel's bound", async () => {
    const policy = join(work, "bad-policy.yaml");
    writeFileSync(policy, "matcher: { kind: recent, hits: 99999, seconds: 60 }\n");
    const { code, stderr } = await run("firewall", "generate", "--policy", policy);
    expect(code).toBe(2);
    expect(stderr).toContain("policy.matcher.hits: xt_recent accepts --hitcount up to 65535");
  });

  it("checks a user's ruleset and names what the model cannot interpret", async () => {
    const good = await run("firewall", "check", join(root, "scenarios", "port-reuse-naive.rules"));
    expect(good.stdout).toContain("the model engine can run this ruleset");
    const bad = join(work, "bad.rules");
    writeFileSync(bad, "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp -m sip --sip-method REGISTER -j DROP\nCOMMIT\n");
    const result = await run("firewall", "check", bad);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/line 3.*sip/);
  });

  it("checks ip6tables-save output as IPv6 rules, by its header or with --ipv6, and notes counters finer than a /64", async () => {
    const ufw = join(root, "test", "fixtures", "ipv6", "ufw.v6");
    const byHeader = await run("firewall", "check", ufw);
    expect(byHeader.code).toBe(0);
    expect(byHeader.stdout).toContain("the model engine can run this ip6tables ruleset");
    expect(byHeader.stderr).toMatch(/ufw\.v6: line \d+: -m recent counts each IPv6 address alone/);
    const headless = join(work, "headless.v6");
    writeFileSync(headless, readFileSync(ufw, "utf8").replace(/^# Generated by ip6tables-save.*\n/, ""));
    expect((await run("firewall", "check", headless, "--ipv6")).stdout).toContain("the model engine can run this ip6tables ruleset");
    // Read as IPv4 without the flag, its IPv6 addresses are what is wrong.
    const asIpv4 = await run("firewall", "check", headless);
    expect(asIpv4.code).toBe(2);
    expect(asIpv4.stderr).toMatch(/"fe80::" is not an IPv4 address/);
    expect(asIpv4.stderr).toContain("its rules name IPv6 addresses: if it is ip6tables-save output, check it with --ipv6");
  });
});

describe("slamlab capture", () => {
  it("inspect names the methods, the User-Agent and the source that looks like slamming", async () => {
    const { code, stdout } = await run("capture", "inspect", join(root, "captures", "lab-svcrack-asterisk22.pcap"));
    expect(code).toBe(0);
    expect(stdout).toContain("SIP requests:  REGISTER 302  (301 with credentials)");
    expect(stdout).toContain("User-Agents:   friendly-scanner 302");
    expect(stdout).toMatch(/198\.18\.0\.66\s+302 REGISTER .* SLAMMING: blocked at its request 10/);
  });

  it("inspect counts an IAX2 capture's frames by command and its sources by REGREQ, and judges them by a policy counting IAX2 (not by the default, which counts SIP only)", async () => {
    const capture = join(root, "captures", "synth-iax2-guess.pcap");
    const plain = await run("capture", "inspect", capture);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain("IAX2 frames:   REGREQ 150, ACK 100, CALLTOKEN 50, REGAUTH 50, REGREJ 50");
    expect(plain.stdout).toContain("PBX/registrar: 198.51.100.10");
    expect(plain.stdout).toMatch(/198\.18\.66\.8\s+150 registrations\s+peak\s+150\/min\s+150 requests\s+not blocked/);
    writeFileSync(join(work, "count-iax2.yaml"), "iax2: { ports: [4569] }\n");
    const counted = await run("capture", "inspect", capture, "--policy", join(work, "count-iax2.yaml"), "--json");
    const json = JSON.parse(counted.stdout) as { iax2Frames: Record<string, number>; sources: Array<{ address: string; registers: number; blocked: { atRequest: number } | null }> };
    expect(json.iax2Frames).toEqual({ REGREQ: 150, CALLTOKEN: 50, REGAUTH: 50, ACK: 100, REGREJ: 50 });
    expect(json.sources).toEqual([expect.objectContaining({ address: "198.18.66.8", registers: 150, blocked: expect.objectContaining({ atRequest: 10 }) })]);
  });

  it("inspect judges a capture's registrars each on its own or, with --as-one-pbx, as the one PBX a replay maps them onto, and says which", async () => {
    // One attacker alternating between two registrars, 6 REGISTERs a second to each.
    const registrars = ["198.51.100.10", "198.51.100.11"];
    const records = Array.from({ length: 12 }, (_, index) => ({
      timestampNs: 1_700_000_000_000_000_000n + BigInt(index) * 80_000_000n,
      data: ethernet(sipDatagram("198.18.66.6", `REGISTER sip:${registrars[index % 2]} SIP/2.0\r\nCSeq: ${index + 1} REGISTER\r\n\r\n`, { dst: registrars[index % 2]!, identification: index + 1 })),
    }));
    const capture = writeTemp(pcapFile(1, records));
    const each = await run("capture", "inspect", capture);
    expect(each.stdout).toMatch(/judged by the default policy \(10 REGISTERs in 60 s\) at each registrar \(--as-one-pbx: as a replay runs them\):\n\s+198\.18\.66\.6 .* 12 requests\s+not blocked$/m);
    expect(each.stdout).not.toContain("SLAMMING");
    const one = await run("capture", "inspect", capture, "--as-one-pbx", "--json");
    expect(JSON.parse(one.stdout)).toMatchObject({ judgedBy: { kind: "policy", registrars: "as one PBX" }, sources: [{ address: "198.18.66.6", blocked: { atRequest: 10 } }] });
    // A replay of the same capture drops the same request.
    const scenario = scenarioOf({ name: "r", description: "r", durationSeconds: 5, pbx: { accounts: [{ users: "200-200", password: "p" }] }, hosts: { attackers: { kind: "range", cidr: "198.18.90.0/24", count: 1 } }, traffic: [{ name: "cap", kind: "replay", host: "attackers", file: capture }] });
    const replay = runModel(scenario, {}, await loadReplays(scenario));
    expect(replay.verdicts.filter((verdict) => verdict.direction === "to-pbx").findIndex((verdict) => verdict.verdict === "dropped")).toBe(9);
    expect((await run("capture", "inspect", capture, "--as-one-pbx", "--ruleset", join(work, "three-strikes.rules"), "--pbx", "198.51.100.10")).stderr).toMatch(/--as-one-pbx or --pbx, not both/);
  });

  it("inspect judges each registrar's attackers alike whether the capture reaches a few registrars (judged as read) or many (judged in a second pass)", async () => {
    const inspectRegistrars = async (count: number) => {
      // Attacker i sends 12 REGISTERs to registrar i, which receives more requests than it sends: a registrar.
      const records = Array.from({ length: count }, (_, registrar) => [
        ...Array.from({ length: 12 }, (_, n) => ({
          timestampNs: 1_700_000_000_000_000_000n + BigInt(n * count + registrar) * 10_000_000n,
          data: ethernet(sipDatagram(`198.18.70.${registrar}`, `REGISTER sip:198.51.100.${registrar} SIP/2.0\r\nCSeq: ${n + 1} REGISTER\r\n\r\n`, { dst: `198.51.100.${registrar}`, identification: n + 1 })),
        })),
      ]).flat();
      const json = JSON.parse((await run("capture", "inspect", writeTemp(pcapFile(1, records)), "--json")).stdout) as { registrars: string[]; sources: Array<{ address: string; blocked: { atRequest: number } | null }> };
      expect(json.registrars).toHaveLength(count);
      return json.sources.map((source) => [source.address, source.blocked?.atRequest ?? null]);
    };
    const few = await inspectRegistrars(3);
    expect(few).toEqual(Array.from({ length: 3 }, (_, registrar) => [`198.18.70.${registrar}`, 10]));
    const many = await inspectRegistrars(20);
    expect(many.sort()).toEqual(Array.from({ length: 20 }, (_, registrar) => [`198.18.70.${registrar}`, 10]).sort());
  });

  it("inspect judges IPv6 sources with the policy's ip6tables rules, per /64, and says a ruleset of iptables rules judged none of them", async () => {
    const pbx6 = "2001:db8:100::10";
    const register = (src: string, index: number) => ({
      timestampNs: 1_700_000_000_000_000_000n + BigInt(index) * 100_000_000n,
      data: encodeIpv6Udp({ src: parseAddress(src), dst: parseAddress(pbx6), sport: 5060, dport: 5060, payload: new TextEncoder().encode(`REGISTER sip:[${pbx6}] SIP/2.0\r\nCSeq: ${index + 1} REGISTER\r\n\r\n`) }),
    });
    // A scanner sending each REGISTER from the next address of its /64, and an office phone in another /64.
    const records = [...Array.from({ length: 12 }, (_, index) => register(`2001:db8:bad:1::${index + 1}`, index)), register("2001:db8:600d:1::21", 12), register("2001:db8:600d:1::21", 13)];
    const capture = writeTemp(pcapFile(101, records));
    for (const extra of [[], ["--as-one-pbx"]]) {
      const json = JSON.parse((await run("capture", "inspect", capture, "--json", ...extra)).stdout) as { registrars: string[]; sources: Array<{ address: string; judged: boolean; blocked: { atRequest: number } | null }> };
      expect(json.registrars).toEqual([pbx6]);
      const blocked = Object.fromEntries(json.sources.map((source) => [source.address, source.blocked?.atRequest ?? null]));
      // The default policy counts an IPv6 source per /64: the scanner's 10th address is its 10th REGISTER.
      expect(Object.entries(blocked).filter(([, at]) => at !== null).map(([address]) => address).sort()).toEqual(["2001:db8:bad:1::10", "2001:db8:bad:1::11", "2001:db8:bad:1::12"]);
      expect(blocked["2001:db8:600d:1::21"]).toBeNull();
      expect(json.sources.every((source) => source.judged)).toBe(true);
    }
    const rules = join(work, "v4-only.rules");
    writeFileSync(rules, "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp --dport 5060 -j DROP\nCOMMIT\n");
    const mine = await run("capture", "inspect", capture, "--ruleset", rules);
    expect(mine.stdout).toMatch(/2001:db8:600d:1::21 .* not judged \(IPv6: the ruleset holds iptables rules; give --ruleset6\)$/m);
    expect(mine.stdout).not.toMatch(/not blocked|SLAMMING/);
    const json = JSON.parse((await run("capture", "inspect", capture, "--ruleset", rules, "--json")).stdout) as { sources: Array<{ judged: boolean; blocked: unknown }> };
    expect(json.sources.every((source) => !source.judged && source.blocked === null)).toBe(true);
    // With the host's ip6tables rules beside them, those judge the IPv6 requests.
    const rules6 = join(work, "scanner-prefix.v6");
    writeFileSync(rules6, "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 2001:db8:bad:1::/64 -p udp --dport 5060 -m recent --name S --set --mask ffff:ffff:ffff:ffff::\n-A INPUT -p udp --dport 5060 -m recent --name S --rcheck --hitcount 4 --mask ffff:ffff:ffff:ffff:: -j DROP\nCOMMIT\n");
    const both = JSON.parse((await run("capture", "inspect", capture, "--ruleset", rules, "--ruleset6", rules6, "--json")).stdout) as { judgedBy: { ruleset6: string }; sources: Array<{ address: string; judged: boolean; blocked: { atRequest: number } | null }> };
    expect(both.judgedBy.ruleset6).toBe(rules6);
    expect(both.sources.every((source) => source.judged)).toBe(true);
    expect(both.sources.filter((source) => source.blocked !== null)).toHaveLength(9);
    expect(both.sources.find((source) => source.address === "2001:db8:600d:1::21")!.blocked).toBeNull();
    expect((await run("capture", "inspect", capture, "--ruleset6", rules6)).stderr).toContain("--ruleset6 goes with --ruleset");
    writeFileSync(rules6, "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m ttl --ttl-lt 5 -j DROP\nCOMMIT\n");
    const bad = await run("capture", "inspect", capture, "--ruleset", rules, "--ruleset6", rules6);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/scanner-prefix\.v6: line 3: .*-m ttl is iptables'/);
  });

  it("inspect judges a capture with the user's own ruleset or a named policy, and --json gives the documented fields", async () => {
    const capture = join(root, "captures", "synth-svwar.pcap");
    const rules = join(work, "three-strikes.rules");
    writeFileSync(rules, "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp --dport 5060 -m recent --name X --set\n-A INPUT -p udp --dport 5060 -m recent --name X --rcheck --seconds 60 --hitcount 3 -j DROP\nCOMMIT\n");
    const mine = await run("capture", "inspect", capture, "--ruleset", rules);
    expect(mine.code).toBe(0);
    expect(mine.stdout).toMatch(/judged by your ruleset .*three-strikes\.rules:\n\s+198\.18\.66\.6 .*SLAMMING: blocked at its request 3,/);
    expect((await run("capture", "inspect", capture, "--policy", "strict")).stdout).toMatch(/judged by the policy strict:\n.*blocked at its request 6,/);
    const json = await run("capture", "inspect", capture, "--ruleset", rules, "--pbx", "198.51.100.10", "--json");
    const document = JSON.parse(json.stdout);
    expect(document).toMatchObject({ format: "slamlab-inspect/1", captureFormat: "pcap", sipRequests: { REGISTER: 500 }, judgedBy: { kind: "ruleset", pbxAddress: "198.51.100.10" } });
    expect(document.sources[0]).toMatchObject({ address: "198.18.66.6", registers: 500, blocked: { atRequest: 3 } });
    const file = join(work, "inspect", "svwar.json");
    expect((await run("capture", "inspect", capture, "--json", file)).code).toBe(0);
    expect(JSON.parse(readFileSync(file, "utf8")).judgedBy).toEqual({ kind: "policy", name: "default", ruleset6: null, pbxAddress: null, registrars: "each" });
    expect((await run("capture", "inspect", capture, "--policy", "strict", "--ruleset", rules)).code).toBe(2);
  });

  it("inspect judges a capture with a ruleset whose sets come from an ipset save file (--ipset)", async () => {
    const capture = join(root, "captures", "synth-svwar.pcap");
    const rules = join(work, "banned.rules");
    writeFileSync(rules, "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp -m set --match-set f2b-asterisk src -j REJECT\nCOMMIT\n");
    const sets = join(work, "banned.ipset");
    writeFileSync(sets, "create f2b-asterisk hash:ip family inet hashsize 1024 maxelem 65536 timeout 600\nadd f2b-asterisk 198.18.66.6 timeout 300\n");
    const judged = await run("capture", "inspect", capture, "--ruleset", rules, "--ipset", sets);
    expect(judged.code, judged.stderr).toBe(0);
    expect(judged.stdout).toMatch(/198\.18\.66\.6 .*SLAMMING: blocked at its request 1,/);
    expect((await run("capture", "inspect", capture, "--ipset", sets)).stderr).toContain("--ipset goes with --ruleset");
  });

  it("inspect refuses a file that is not a capture, with exit 2 and the magic it found", async () => {
    const { code, stderr } = await run("capture", "inspect", join(root, "package.json"));
    expect(code).toBe(2);
    expect(stderr).toMatch(/not a pcap or pcapng file: magic 0x7b0a2020 at byte 0 \(it looks like JSON\)/);
  });

  it("synth writes a capture that inspect reads back", async () => {
    const out = join(work, "svwar.pcap");
    const made = await run("capture", "synth", "--kind", "svwar", "--rate-pps", "20", "--duration-seconds", "2", "--out", out);
    expect(made.stdout).toContain("80 packets");
    // The flags are named as the scenario fields they set (ratePps, durationSeconds); the older names still work.
    const older = join(work, "svwar-older-flags.pcap");
    expect((await run("capture", "synth", "--kind", "svwar", "--rate", "20", "--duration", "2", "--out", older)).code).toBe(0);
    expect(readFileSync(older)).toEqual(readFileSync(out));
    expect((await run("capture", "synth", "--kind", "svwar", "--rate-pps", "0", "--out", older)).stderr).toContain("--rate-pps 0: expected a number above 0");
    const { stdout } = await run("capture", "inspect", out);
    expect(stdout).toContain("REGISTER 40");
    const bad = await run("capture", "synth", "--kind", "nmap", "--out", out);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--kind nmap: choose one of svwar, svcrack, register-flood, nat-office");
  });
});

describe("the installed bin", () => {
  beforeAll(() => ensureBuild(), 120_000);

  it("--engine docker without a reachable Docker engine exits 3 and says how to get one", () => {
    const result = spawnSync("node", [join(root, "bin", "slamlab.js"), "simulate", "--scenario", "port-reuse", "--engine", "docker"], {
      encoding: "utf8",
      env: { ...process.env, DOCKER_HOST: "tcp://127.0.0.1:1" },
    });
    expect(result.status).toBe(3);
    expect(result.stderr).toContain("--engine docker needs a Docker engine and none answers at DOCKER_HOST=tcp://127.0.0.1:1");
    expect(result.stderr).toContain("ci/setup-docker.sh");
  });

  it.each(["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:1"])("DOCKER_HOST=%s that does not answer is exit 3, never a quiet fallback to /var/run/docker.sock", (dockerHost) => {
    const result = spawnSync("node", [join(root, "bin", "slamlab.js"), "simulate", "--scenario", "port-reuse", "--engine", "docker"], {
      encoding: "utf8",
      env: { ...process.env, DOCKER_HOST: dockerHost },
    });
    expect(result.status).toBe(3);
    expect(result.stderr).toContain(`none answers at DOCKER_HOST=${dockerHost}`);
    expect(result.stderr).toContain("unset it to use /var/run/docker.sock");
    expect(result.stdout).toBe("");
  });

  it("runs the README's first command", () => {
    const result = spawnSync("node", [join(root, "bin", "slamlab.js"), "simulate", "--scenario", "nat-office"], { encoding: "utf8" });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("PASS  nat-office: 2 of 2 expectations met");
    expect(existsSync(join(root, "dist", "src", "cli", "main.js"))).toBe(true);
  });
});
