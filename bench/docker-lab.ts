/**
 * The docker lab's costs, measured: lab image build (cold with --cold, which
 * removes the current image first, and warm), per-scenario overhead (wall time
 * minus the traffic's own duration), the paced send rate one traffic
 * container sustains and its send-time error, and Asterisk's CPU under a
 * register flood with and without the generated firewall, and per request
 * it answers (request-cost: what the model's PBX cost estimate uses).
 * Run: npm run build && node dist/bench/docker-lab.js [--cold] [--sections image,overhead,sending,cpu,request-cost]
 */
import { cpus } from "node:os";
import { DockerEngine, START_SLACK_MS } from "../src/engines/docker/docker-engine.js";
import { dockerRuntime } from "../src/engines/docker/docker-runtime.js";
import { buildLabImage, labImageTag } from "../src/engines/docker/lab-image.js";
import { policySchema } from "../src/firewall/policy.js";
import { builtinScenarioDirectory } from "../src/scenario/catalogue.js";
import { loadScenario } from "../src/scenario/load-scenario.js";
import type { Scenario } from "../src/scenario/scenario.js";
import { scenarioSchema } from "../src/scenario/schema.js";

const engine = new DockerEngine();
const sectionsArgument = process.argv.indexOf("--sections");
const sections = new Set(sectionsArgument > 0 ? process.argv[sectionsArgument + 1]!.split(",") : ["image", "overhead", "sending", "cpu"]);
console.log(`docker lab (${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, node ${process.version})`);

if (sections.has("image") && process.argv.includes("--cold")) {
  const dockerode = (await dockerRuntime()).container.dockerode;
  for (const tag of [labImageTag(), labImageTag().replace("slamlab-lab", "slamlab-base")]) await dockerode.getImage(tag).remove({ force: true }).catch(() => undefined);
  const cold = await buildLabImage();
  console.log(`image build, cold (debootstrap + import + Dockerfile): ${cold.seconds.toFixed(1)} s`);
}
const warm = await buildLabImage();
if (sections.has("image")) console.log(`image build, warm (content hash unchanged): ${warm.seconds.toFixed(2)} s`);

for (const name of sections.has("overhead") ? ["port-reuse", "nat-office"] : []) {
  const scenario = loadScenario(`${builtinScenarioDirectory()}/${name}.yaml`, null);
  const result = await engine.run(scenario);
  const overhead = result.wallMs / 1000 - scenario.durationSeconds;
  console.log(`${name}: ${scenario.durationSeconds} s of traffic in ${(result.wallMs / 1000).toFixed(1)} s: overhead ${overhead.toFixed(1)} s (lab start ${result.environment["lab start (s)"]} s, runners ready ${result.environment["runners ready (s)"]} s later, ${START_SLACK_MS / 1000} s start slack, ${result.environment["after the traffic (s)"]} s after the traffic), send error p99 ${result.environment["send error p99 (µs)"]} µs`);
}

function flood(ratePps: number, seconds: number, firewall: Scenario["firewall"], mode: "svwar" | "svcrack" = "svwar"): Scenario {
  const parsed = scenarioSchema.parse({
    name: "bench-flood",
    description: "one address flooding REGISTERs",
    durationSeconds: seconds + 1,
    firewall: { policy: "default" },
    pbx: { accounts: [{ users: "200-209", password: "bench-{user}" }] },
    hosts: { scanner: { kind: "addresses", addresses: ["198.18.66.6"] } },
    // A bot that never gives up: the bench times a flood that keeps going.
    traffic: [{ name: "flood", kind: "register-flood", host: "scanner", mode, ratePps, durationSeconds: seconds, startSeconds: 0.5, giveUpSeconds: 0 }],
  });
  return { ...parsed, variant: null, file: "<bench>", firewall };
}

const dropScanner = {
  kind: "ruleset" as const,
  path: "<drop scanner>",
  text: "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -s 198.18.66.6/32 -j DROP\nCOMMIT\n",
};
if (sections.has("sending")) console.log("paced sending from one traffic container (the firewall drops it all, so only sending is measured):");
for (const rate of sections.has("sending") ? [1_000, 10_000, 50_000, 100_000] : []) {
  const result = await engine.run(flood(rate, 3, dropScanner));
  const sent = result.verdicts.filter((verdict) => verdict.direction === "to-pbx").length;
  const env = result.environment;
  console.log(
    `  ${rate.toLocaleString("en-US").padStart(7)} pps target: ${sent.toLocaleString("en-US").padStart(7)} judged of ${(rate * 3).toLocaleString("en-US")}, send error p50 ${env["send error p50 (µs)"]} µs, p99 ${env["send error p99 (µs)"]} µs, max ${env["send error max (µs)"]} µs`,
  );
}

const acceptAll = { kind: "ruleset" as const, path: "<accept all>", text: "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n" };
const generated = { kind: "policy" as const, policy: policySchema.parse({}), policyName: "default" };
if (sections.has("cpu")) console.log("Asterisk CPU under a 2,000 REGISTER/s flood for 20 s:");
for (const [label, firewall] of sections.has("cpu") ? ([["without a firewall", acceptAll], ["with the default policy", generated]] as const) : []) {
  const result = await engine.run(flood(2_000, 20, firewall));
  console.log(`  ${label.padEnd(24)} Asterisk used ${result.environment["asterisk cpu (s)"]} s of CPU`);
}

if (sections.has("request-cost")) {
  // Asterisk's CPU per request it answers: a flood's CPU less an idle run's (the same length, one request a second), per request delivered.
  console.log("Asterisk CPU per request, 500 REGISTER/s for 20 s, no firewall (less a run of 1 REGISTER/s):");
  const cpuOf = (result: Awaited<ReturnType<typeof engine.run>>) => Number(result.environment["asterisk cpu (s)"]) * 1e6;
  const delivered = (result: Awaited<ReturnType<typeof engine.run>>) => result.verdicts.filter((verdict) => verdict.direction === "to-pbx" && verdict.verdict === "delivered").length;
  const idle = await engine.run(flood(1, 20, acceptAll));
  for (const mode of ["svwar", "svcrack"] as const) {
    const result = await engine.run(flood(500, 20, acceptAll, mode));
    const perRequest = (cpuOf(result) - cpuOf(idle)) / (delivered(result) - delivered(idle));
    console.log(`  ${mode.padEnd(8)} ${delivered(result).toLocaleString("en-US")} requests, Asterisk ${result.environment["asterisk cpu (s)"]} s (idle run ${idle.environment["asterisk cpu (s)"]} s): ${perRequest.toFixed(0)} µs a request`);
  }
  // An IAX2 guesser's frames (three REGREQs and an ACK a guess) cost chan_iax2 differently: its own figure.
  const guesser = await engine.run(iax2Guesser(125, 20));
  const perFrame = (cpuOf(guesser) - cpuOf(idle)) / (delivered(guesser) - delivered(idle));
  console.log(`  iax2     ${delivered(guesser).toLocaleString("en-US")} frames (125 guesses/s), Asterisk ${guesser.environment["asterisk cpu (s)"]} s: ${perFrame.toFixed(0)} µs a frame`);
}

function iax2Guesser(guessesPerSecond: number, seconds: number): Scenario {
  const parsed = scenarioSchema.parse({
    name: "bench-iax2",
    description: "one address guessing an IAX2 peer's secret",
    durationSeconds: seconds + 1,
    firewall: { policy: "default" },
    pbx: { accounts: [{ users: "200-209", password: "bench-{user}" }] },
    hosts: { guesser: { kind: "addresses", addresses: ["198.18.66.6"] } },
    traffic: [{ name: "guesser", kind: "iax2-flood", host: "guesser", mode: "guess", peers: "200-200", ratePps: guessesPerSecond, durationSeconds: seconds, startSeconds: 0.5, giveUpSeconds: 0 }],
  });
  return { ...parsed, variant: null, file: "<bench>", firewall: acceptAll };
}
