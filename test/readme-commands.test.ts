import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { dockerRuntime, LABEL_APP } from "../src/engines/docker/docker-runtime.js";
import { ensureBuild } from "./helpers/ensure-build.js";
import { scratchDirectory } from "./helpers/scratch-directory.js";

/**
 * Every `npx slamlab` line of the README's shell blocks, run as shown from a
 * directory laid out like a fresh clone (scenarios/, captures/, schema/),
 * with the user's own files the commands name (my-pbx.yaml, my-scenarios/,
 * attack.pcap) made from the README's own example. The one path changed is
 * /etc/iptables/rules.v4: a test must not write the host's /etc, so the
 * admin's ruleset is rules.v4 beside the others.
 */
const root = join(import.meta.dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");
const MINUTES = 60_000;

const shellBlocks = [...readme.matchAll(/^ *```(?:sh|bash)\n([\s\S]*?)^ *```/gm)].map((match) => match[1]!);
const commands = shellBlocks
  .flatMap((block) => block.split("\n"))
  // "npm ci && npx slamlab ..." is two commands; npm ci is what the test run itself stands on.
  .flatMap((line) => line.replace(/\s+#.*$/, "").split("&&"))
  .map((command) => command.trim())
  .filter((command) => command.startsWith("npx slamlab "));
const standIns: Record<string, string> = { "/etc/iptables/rules.v4": "rules.v4" };
/** The words a shell would give the command: quotes group and are removed. */
const argsOf = (command: string) =>
  [...command.replace(/^npx slamlab /, "").matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((match) => {
    const word = match[1] ?? match[2] ?? match[3]!;
    return standIns[word] ?? word;
  });

interface CommandCheck {
  /** "full": runs to its end; "start": runs until it shows it is under way, then gets Ctrl-C (it takes minutes to hours). */
  readonly run: "full" | "start";
  readonly docker?: boolean;
  /** For "start": what it prints once it is under way. */
  readonly underWay?: RegExp;
  /** What the command leaves behind, relative to its directory. */
  readonly writes?: readonly string[];
  /** For "full": its exit code (0 unless the README shows an expectation failing) and what it must print. */
  readonly exit?: number;
  readonly shows?: RegExp;
  /** The containers this command starts, when it runs beside the lab rather than in it (firewall import): only those must be gone after. */
  readonly containers?: RegExp;
}

const checks: Record<string, CommandCheck> = {
  "npx slamlab simulate --scenario nat-office": { run: "full", shows: /PASS {2}office-phones {2}registered: all/ },
  "npx slamlab scenarios": { run: "full" },
  "npx slamlab simulate broken-phone --variant office-allowlisted": { run: "full" },
  "npx slamlab simulate --scenario my-pbx.yaml --seed 4 --json out/run.json --verdicts --junit out/run.xml": { run: "full", writes: ["out/run.json", "out/run.xml"] },
  "npx slamlab simulate --scenario port-reuse --pcap-dir out/pcaps": { run: "full", writes: ["out/pcaps/dropped.pcapng"] },
  // The README's point: with room for every bot, the eviction weakness the scenario expects is gone.
  "npx slamlab simulate --scenario distributed-scan --kernel xt_recent.ip_list_tot=200": { run: "full", exit: 1, shows: /FAIL {2}botnet {2}neverBlocked: true/ },
  "npx slamlab test scenarios/ --junit out/junit.xml": { run: "full", writes: ["out/junit.xml"] },
  "npx slamlab firewall generate --policy strict --format script --pbx 198.51.100.10 --out slamming.sh": { run: "full", writes: ["slamming.sh"] },
  "npx slamlab firewall check /etc/iptables/rules.v4": { run: "full" },
  "npx slamlab diff --scenario nat-office": { run: "full", docker: true },
  "npx slamlab diff --builtins --random 200 --out fidelity/": { run: "start", docker: true, underWay: /differential suite: \d+ scenarios/ },
  // The same 1,560-setting sweep as `npx slamlab tune`, which only gets started.
  "npx slamlab tune --param hits=2..40 --param seconds=5..300 --out tune/": { run: "full", writes: ["tune/results.json", "tune/results.csv", "tune/report.html"] },
  "npx slamlab tune --scenarios my-scenarios/ --write-policy tuned.rules --validate docker": { run: "start", docker: true, underWay: /validating .* on the docker engine/, writes: ["tuned.rules"] },
  "npx slamlab capture inspect attack.pcap": { run: "full" },
  "npx slamlab capture inspect attack.pcap --ruleset /etc/iptables/rules.v4 --pbx 198.51.100.10 --json": { run: "full" },
  "npx slamlab capture synth --kind svcrack --out svcrack.pcap": { run: "full", writes: ["svcrack.pcap"] },
  "npx slamlab firewall import examples/reference-2010/firewall.sh --out my-rules.v4": { run: "full", docker: true, writes: ["my-rules.v4"], shows: /rules per table: filter 7/, containers: /-import\b/ },
  "npx slamlab firewall check examples/reference-2010/rules.v4": { run: "full", shows: /the model engine can run this ruleset/ },
  "npx slamlab simulate --scenario examples/reference-2010/office.yaml": { run: "full", shows: /PASS {2}reference-2010-office: 4 of 4 expectations met/ },
  "npx slamlab firewall check examples/nftables/office.nft": { run: "full", shows: /the model engine can run this nftables ruleset/ },
  "npx slamlab simulate --scenario examples/nftables/office.yaml": { run: "full", shows: /PASS {2}nftables-office: 4 of 4 expectations met/ },
  "npx slamlab tune --scenarios examples/reference-2010/office.yaml --ruleset examples/reference-2010/rules.v4 --param 'SIP-CHECK:4 --hitcount=4..40:4' --param 'SIP-CHECK:4 --seconds=30,60,120' --out tune-mine/ --write-policy my-tuned.rules": {
    run: "full",
    writes: ["my-tuned.rules", "tune-mine/report.html"],
    shows: /recommended: SIP-CHECK:4 --hitcount=24, SIP-CHECK:4 --seconds=30/,
  },
  "npx slamlab tune --param matcher=recent,nft-meter --param hits=4..24:4 --param seconds=30,60 --out tune-nft/ --write-policy tuned.nft": {
    run: "full",
    writes: ["tuned.nft", "tune-nft/report.html"],
    shows: /Best setting of each matcher:\n.*\n {2}recent hits=.*\n {2}nft-meter hits=/,
  },
  "npx slamlab tune --scenarios examples/nftables/office.yaml,register-flood --ruleset examples/nftables/office.nft --param 'input:4 --rate=5..40:5' --param '@slammers --timeout=60,600' --out tune-office/": {
    run: "full",
    writes: ["tune-office/results.json"],
    shows: /recommended: input:4 --rate=\d+, @slammers --timeout=\d+: /,
  },
  "npx slamlab compare --scenarios examples/weak-password/office.yaml,examples/weak-password/third-word.yaml --out compare/": {
    run: "full",
    writes: ["compare/compare.json", "compare/compare.html"],
    shows: /best: responsive: 1 password found, every phone registered, 10 of 60 attack requests reached the PBX/,
  },
  "npx slamlab compare --scenario nat-office --variant no-allowlist --defences kernel,none": { run: "full", writes: ["slamlab-compare/compare.html"], shows: /best: none: no password found, every phone registered/ },
  "npx slamlab images build": { run: "full", docker: true },
  "npx slamlab simulate --scenario port-reuse --engine docker": { run: "full", docker: true },
  "npx slamlab test scenarios/ --engine docker --junit out/docker.xml": { run: "start", docker: true, underWay: /is up to date/ },
  "npx slamlab clean": { run: "full", docker: true },
  "npx slamlab tune": { run: "start", underWay: /tune: 1560 settings x 17 scenario runs/ },
  "npx slamlab tune --param matcher=recent,hashlimit --random 500 --seed 3 --out tune/": { run: "start", underWay: /tune: 500 settings x 17 scenario runs/ },
  "npx slamlab tune --scenarios my-scenarios/ --shard 2/4 --out shard-2/": { run: "full", writes: ["shard-2/results.json"] },
  "npx slamlab tune --write-policy tuned.rules --pbx 198.51.100.10 --validate docker": { run: "start", docker: true, underWay: /tune: 1560 settings x 17 scenario runs/ },
};

const requireDocker = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
const dockerHere = await dockerRuntime().then(
  () => true,
  () => false,
);
if (!dockerHere && !requireDocker) console.log("skipping the README's docker commands: no Docker engine answers (bash ci/setup-docker.sh)");

async function labContainers(): Promise<string[]> {
  const runtime = await dockerRuntime();
  const containers = await runtime.container.dockerode.listContainers({ all: true, filters: { label: [`${LABEL_APP}=slamlab`] } });
  return containers.map((container) => `${container.Names.join(",")} (${container.State})`);
}

/** A directory like a fresh clone, with the user's files the README's commands name. */
function clone(): string {
  const work = scratchDirectory("readme-commands");
  for (const folder of ["scenarios", "captures", "schema", "examples"]) symlinkSync(join(root, folder), join(work, folder));
  const example = /```yaml\n([\s\S]*?)```/.exec(readme)![1]!;
  writeFileSync(join(work, "my-pbx.yaml"), example);
  mkdirSync(join(work, "my-scenarios"));
  writeFileSync(join(work, "my-scenarios", "my-office.yaml"), example);
  cpSync(join(root, "captures", "lab-svcrack-asterisk22.pcap"), join(work, "attack.pcap"));
  cpSync(join(root, "scenarios", "port-reuse-naive.rules"), join(work, "rules.v4"));
  return work;
}

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** The command as a user runs it; "start" commands get SIGINT once they print what shows them under way. */
function run(command: string, check: CommandCheck, cwd: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, "bin", "slamlab.js"), ...argsOf(command)], { cwd, env: { ...process.env, NO_COLOR: "1" } });
    let output = "";
    let interrupted = false;
    const watch = (chunk: Buffer) => {
      output += chunk.toString();
      if (check.run === "start" && !interrupted && check.underWay!.test(output)) {
        interrupted = true;
        child.kill("SIGINT");
      }
    };
    child.stdout.on("data", watch);
    child.stderr.on("data", watch);
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, output }));
  });
}

beforeAll(() => ensureBuild(), 2 * MINUTES);

/** `npm test` runs this file in both halves (vitest.config.ts): the docker half the docker commands, the model half the others. */
const half = process.env.SLAMLAB_TEST_HALF;

describe("every command in the README's shell blocks", () => {
  it.runIf(half !== "docker")("is one this test knows how to check, and every check is still in the README", () => {
    expect(commands.length).toBeGreaterThan(20);
    expect(commands.filter((command) => !(command in checks)), "README commands with no check here").toEqual([]);
    expect(Object.keys(checks).filter((command) => !commands.includes(command)), "checks for commands the README no longer shows").toEqual([]);
  });

  const work = clone();
  const cases = commands
    .filter((command) => checks[command])
    .map((command) => ({ command, check: checks[command]! }))
    .filter(({ check }) => (half === "docker" ? check.docker : half === "model" ? !check.docker : true));
  for (const { command, check } of cases) {
    const runnable = !check.docker || dockerHere || requireDocker;
    it.runIf(runnable)(`${check.run === "full" ? "runs" : "starts"}: ${command}`, async () => {
      const ran = await run(command, check, work);
      if (check.run === "full") {
        expect(ran.code, ran.output).toBe(check.exit ?? 0);
        if (check.shows) expect(ran.output).toMatch(check.shows);
      } else {
        expect(ran.output, "never got under way").toMatch(check.underWay!);
        expect(ran.output).not.toMatch(/this is a bug in slamlab/);
        // Interrupted by Ctrl-C: either the CLI's own handler (exit 130) or the signal itself.
        expect(ran.code === 130 || ran.signal === "SIGINT", `ended with ${ran.code ?? ran.signal}:\n${ran.output}`).toBe(true);
      }
      for (const file of check.writes ?? []) expect(existsSync(join(work, file)), `${file} written`).toBe(true);
      // Finished or interrupted, a docker command leaves no container of its lab running.
      if (check.docker) expect((await labContainers()).filter((name) => !check.containers || check.containers.test(name))).toEqual([]);
    }, 15 * MINUTES);
  }
});
