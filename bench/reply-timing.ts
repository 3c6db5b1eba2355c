/**
 * How long a user agent's reply-driven request trails the request it answers,
 * in the kernel's clock, lab against model (issue 5). A phone's second
 * REGISTER (with credentials) leaves when Asterisk's 401 has arrived and been
 * answered; the lab times both requests with NFLOG's kernel timestamp, the
 * model with its virtual clock. The difference is Asterisk's processing plus
 * the phone's reaction, which the model's PBX reply delays stand for
 * (src/engines/model/asterisk-pbx.ts). NFLOG gives Asterisk's own packets no
 * timestamp, so the two parts cannot be told apart here.
 * Run: npm run build && node dist/bench/reply-timing.js [--runs N] [--only blf-subscribe,random-53,...]
 * (about 12 minutes a run: broken-phone and roaming-user take 4 minutes each).
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DockerEngine } from "../src/engines/docker/docker-engine.js";
import { ModelEngine } from "../src/engines/model/model-engine.js";
import { decodeIpv4 } from "../src/net/ipv4.js";
import { resolveScenarioRef } from "../src/scenario/catalogue.js";
import { loadScenario } from "../src/scenario/load-scenario.js";
import { randomScenario, writeRandomScenario } from "../src/scenario/random-scenario.js";
import type { Scenario } from "../src/scenario/scenario.js";
import { parseSip } from "../src/sip/sip-message.js";
import type { RunResult } from "../src/verdict/run-result.js";

/** Scenarios whose phones register and subscribe on an otherwise quiet PBX. */
const BUILTINS = ["broken-phone", "roaming-user", "blf-subscribe"];
/** Random seeds with phones (from the differential suite's timing-only samples). */
const SEEDS = [46, 53, 79, 84, 104, 106, 112, 143];
/** A reply-driven request follows the one it answers within this long in the model. */
const FOLLOW_WINDOW_US = 20_000;

interface SentRequest {
  readonly atUs: number;
  readonly source: string;
  readonly callId: string;
  readonly cseq: number;
  readonly method: string;
  readonly withCredentials: boolean;
}

/**
 * Requests that reached the PBX's filter, keyed by dialog and CSeq so both
 * engines' runs pair up, and each dialog's first answer to a NOTIFY.
 */
function requestsOf(run: RunResult): Map<string, SentRequest> {
  const requests = new Map<string, SentRequest>();
  for (const verdict of run.verdicts) {
    const bytes = run.packets?.[verdict.packetId];
    if (verdict.direction !== "to-pbx" || !bytes) continue;
    const packet = decodeIpv4(bytes, "eth0");
    const message = parseSip(packet.bytes.subarray(packet.payloadOffset));
    if (!message || (message.kind === "response" && message.method !== "NOTIFY")) continue;
    // A phone's answer to a NOTIFY: Asterisk numbers NOTIFYs from a random CSeq, so the dialog's first answer stands for it.
    const key = message.kind === "request" ? `${message.callId} ${message.cseq} ${message.method}` : `${message.callId} answer to NOTIFY`;
    if (requests.has(key)) continue;
    requests.set(key, {
      atUs: verdict.atUs,
      source: `${verdict.srcAddr}:${verdict.srcPort}`,
      callId: message.callId,
      cseq: message.cseq,
      method: message.kind === "request" ? message.method : "answer to NOTIFY",
      withCredentials: message.header("authorization") !== undefined,
    });
  }
  return requests;
}

/**
 * Pairs of (answered request, what its answer triggered), named by the answer:
 * the same dialog's next CSeq after a challenge, a phone's first SUBSCRIBE after
 * its registration's 200, a phone's answer to the NOTIFY after its subscription's 200.
 */
function replyDriven(requests: ReadonlyMap<string, SentRequest>): Array<{ answer: string; first: string; next: string }> {
  const ordered = [...requests.entries()].sort((a, b) => a[1].atUs - b[1].atUs);
  const pairs: Array<{ answer: string; first: string; next: string }> = [];
  for (const [index, [key, request]] of ordered.entries()) {
    const later = ordered.slice(index + 1).filter(([, other]) => other.atUs - request.atUs <= FOLLOW_WINDOW_US);
    const challenged = later.find(([, other]) => other.callId === request.callId && other.cseq === request.cseq + 1 && other.withCredentials);
    if (!request.withCredentials && challenged) pairs.push({ answer: `401 to ${request.method}`, first: key, next: challenged[0] });
    const notified = later.find(([, other]) => other.callId === request.callId && other.method === "answer to NOTIFY");
    if (request.method === "SUBSCRIBE" && request.withCredentials && notified) pairs.push({ answer: "200 and NOTIFY to a SUBSCRIBE", first: key, next: notified[0] });
    const subscribe = later.find(([, other]) => other.source === request.source && other.method === "SUBSCRIBE");
    if (request.method === "REGISTER" && request.withCredentials && subscribe && !later.some(([, other]) => other.source === request.source && other.atUs < subscribe[1].atUs)) {
      pairs.push({ answer: "200 to REGISTER", first: key, next: subscribe[0] });
    }
  }
  return pairs;
}

const argument = (name: string) => {
  const index = process.argv.indexOf(name);
  return index > 0 ? process.argv[index + 1] : undefined;
};
const runs = Number(argument("--runs") ?? 1);
const only = argument("--only")?.split(",");
const directory = join(tmpdir(), "slamlab-reply-timing");
mkdirSync(directory, { recursive: true });
const known = [...BUILTINS, ...SEEDS.map((seed) => `random-${seed}`)];
const unknown = only?.filter((name) => !known.includes(name)) ?? [];
if (unknown.length > 0) {
  console.error(`reply-timing: --only ${unknown.join(",")}: not among this benchmark's scenarios; choose from ${known.join(",")}`);
  process.exit(2);
}
const scenarios: Scenario[] = [
  ...BUILTINS.map((name) => loadScenario(resolveScenarioRef(name), null)),
  ...SEEDS.map((seed) => loadScenario(writeRandomScenario(randomScenario(seed), directory), null)),
].filter((scenario) => !only || only.includes(scenario.name));

const gaps = new Map<string, { model: number[]; lab: number[] }>();
const docker = new DockerEngine();
for (let run = 0; run < runs; run++) {
  for (const scenario of scenarios) {
    const model = requestsOf(await new ModelEngine().run(scenario, { keepPackets: true }));
    const lab = requestsOf(await docker.run(scenario, { keepPackets: true }));
    for (const pair of replyDriven(model)) {
      const [labFirst, labNext] = [lab.get(pair.first), lab.get(pair.next)];
      if (!labFirst || !labNext) continue;
      const entry = gaps.get(pair.answer) ?? { model: [], lab: [] };
      entry.model.push(model.get(pair.next)!.atUs - model.get(pair.first)!.atUs);
      entry.lab.push(labNext.atUs - labFirst.atUs);
      gaps.set(pair.answer, entry);
    }
  }
}

const quantile = (values: readonly number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN);
};
console.log(`reply-driven requests, kernel time after the request they answer (µs); ${scenarios.length} scenarios x ${runs} run(s)`);
console.log(`${"answer".padEnd(30)} ${"pairs".padStart(6)} ${"model p50".padStart(10)} ${"lab p10".padStart(8)} ${"lab p50".padStart(8)} ${"lab p90".padStart(8)}`);
for (const [answer, { model, lab }] of [...gaps.entries()].sort()) {
  console.log(`${answer.padEnd(30)} ${String(lab.length).padStart(6)} ${String(quantile(model, 0.5)).padStart(10)} ${String(quantile(lab, 0.1)).padStart(8)} ${String(quantile(lab, 0.5)).padStart(8)} ${String(quantile(lab, 0.9)).padStart(8)}`);
}
