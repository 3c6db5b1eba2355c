/**
 * Runs inside a traffic container: drives the scenario's traffic sources in
 * real time over dgram sockets bound to the lab addresses, through the same
 * TrafficSource interface the model engine drives in virtual time, and logs
 * every send and event for the verdict join.
 * Usage: node agent-runner.js /out/runner-NAME.json
 */
import { isIpv6Number, parseAddress } from "../../net/address-number.js";
import { rewriteIpv6 } from "../../net/ipv6.js";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import dgram from "node:dgram";
import net from "node:net";
import tls from "node:tls";
import { openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { rewriteIpv4 } from "../../net/ipv4.js";
import { requestsInWrite, SipStreamFramer } from "../../sip/sip-stream.js";
import { piecesOfWrite } from "../../traffic/write-pieces.js";
import type { AgentContext, Datagram, TrafficSource } from "../../traffic/agent.js";
import { createTrafficSources } from "../../traffic/create-traffic-sources.js";
import { forkRandom } from "../../traffic/random.js";
import { loadReplays } from "../../traffic/replay/load-replays.js";
import type { AgentEvent } from "../../verdict/verdict.js";
import { defaultKernelSettings } from "../model/kernel-settings.js";
import { ModelEngine } from "../model/model-engine.js";
import { plannedSendTime } from "../planned-send-time.js";
import { performanceTimeOf } from "./run-start.js";
import { RAW_LEAD_US, startRawSender, type RawSender } from "./raw-sender.js";
import { growDescriptorTable, RUNNER_DESCRIPTORS } from "./descriptor-table.js";
import { doneFile, readyFile, START_FILE, type RunnerSpec, type RunnerStart, type SendRecord } from "./runner-spec.js";
import { toolCommand } from "./tool-command.js";
import { WallClockAgenda } from "./wall-clock-agenda.js";

growDescriptorTable(RUNNER_DESCRIPTORS);
const spec = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as RunnerSpec;
const own = new Set(spec.sources);
const scenario = spec.scenario;
const replays = await loadReplays({ ...scenario, traffic: scenario.traffic.filter((source) => own.has(source.name)) });
const sources = createTrafficSources(scenario, replays, { only: own, tools: "placeholders" });
const tools = scenario.traffic.filter((source): source is Extract<typeof source, { kind: "tool" }> => source.kind === "tool" && own.has(source.name));
const toolNames = new Set(tools.map((tool) => tool.name));

const sends: PendingSend[] = [];
const events: AgentEvent[] = [];
/** performance.now() at the run's time 0, once the start file gives it. */
let t0Perf = Number.POSITIVE_INFINITY;
const nowUs = () => Math.round((performance.now() - t0Perf) * 1000);
const jiffyUs = 1_000_000 / defaultKernelSettings.hz;
const aimOf = spec.aimWithinJiffies ? (atUs: number) => plannedSendTime(atUs, jiffyUs) : (atUs: number) => atUs;
const agenda = new WallClockAgenda(nowUs, spec.endUs, aimOf);

// Raw IP for replayed datagrams: TTL, ID, options and fragments go out as captured.
// Replays are the only sources of raw datagrams; a runner with one starts the sender before time 0
// (python took 6 ms to spawn inside the first send's action) and runs their actions RAW_LEAD_US early.
let rawSender: RawSender | null = null;
/** The scheduled time of the early-run action running now (a replay's), null otherwise. */
let earlyScheduledUs: number | null = null;
/** CLOCK_MONOTONIC (ns) at the run's time 0, once the start file gives it: the raw sender's clock. */
let t0Ns = 0n;
const usSinceT0 = (monotonicNs: bigint) => Number(monotonicNs - t0Ns) / 1000;

const sockets = new Map<string, dgram.Socket>();
/**
 * Every address here is an IP literal. Answering dgram's lookup at once makes
 * socket.send() call sendmsg() before it returns; dns.lookup answers a literal
 * a tick later, after every other action due in the same turn, and the
 * datagram reached the firewall up to a few hundred µs after its send record.
 */
const literalLookup = (address: string, _options: unknown, callback: (error: null, address: string, family: number) => void) => callback(null, address, address.includes(":") ? 6 : 4);
const owners = new Map<string, TrafficSource>();
const contexts = new Map<TrafficSource, AgentContext>();

function socketFor(address: string, port: number, source: TrafficSource): Promise<dgram.Socket> {
  const key = `${address}:${port}`;
  const known = sockets.get(key);
  if (known) return Promise.resolve(known);
  const socket = dgram.createSocket({ type: address.includes(":") ? "udp6" : "udp4", reuseAddr: true, lookup: literalLookup });
  sockets.set(key, socket);
  owners.set(key, source);
  socket.on("message", (payload, remote) => {
    const owner = owners.get(key)!;
    owner.receive({ src: remote.address, sport: remote.port, dst: address, dport: port, payload: new Uint8Array(payload) }, contexts.get(owner)!);
  });
  socket.on("error", (error) => process.stderr.write(`runner ${spec.name}: socket ${key}: ${error.message}\n`));
  return new Promise((resolve) => socket.bind({ address, port }, () => resolve(socket)));
}

/** SIP over TCP: one connection per agent socket and PBX port, made at its first write, as the model's stacks make them. */
const connections = new Map<string, { socket: net.Socket; writing: Promise<void> }>();

function writeToConnection(source: TrafficSource, datagram: Datagram): void {
  const key = `${datagram.src}:${datagram.sport}:${datagram.dport}`;
  owners.set(key, source);
  let connection = connections.get(key);
  if (!connection || connection.socket.destroyed) {
    const where = { host: datagram.dst, port: datagram.dport, localAddress: datagram.src, localPort: datagram.sport, noDelay: true, lookup: literalLookup };
    const transport = datagram.transport === "tls" ? "tls" : "tcp";
    // The lab's certificate is made per run: nothing to verify it against, as a phone told to trust any.
    const socket = transport === "tls" ? tls.connect({ ...where, rejectUnauthorized: false }) : net.connect(where);
    const framer = new SipStreamFramer();
    socket.on("data", (chunk: Buffer) => {
      const owner = owners.get(key)!;
      for (const message of framer.push(new Uint8Array(chunk))) {
        owner.receive({ src: datagram.dst, sport: datagram.dport, dst: datagram.src, dport: datagram.sport, payload: message, transport }, contexts.get(owner)!);
      }
    });
    socket.on("error", (error) => process.stderr.write(`runner ${spec.name}: connection ${key}: ${error.message}\n`));
    // Over TLS the first request waits for the handshake, as a phone's stack holds it.
    connection = { socket, writing: new Promise((resolve) => socket.once(transport === "tls" ? "secureConnect" : "connect", () => resolve())) };
    connections.set(key, connection);
  }
  // Each piece its own write once the one before has reached the kernel: with no Nagle, its own segment.
  const pieces = piecesOfWrite(datagram.payload, datagram.segments);
  const { socket } = connection;
  connection.writing = connection.writing.then(async () => {
    for (const piece of pieces) await new Promise<void>((resolve) => socket.write(piece, () => resolve()));
  });
}

function callIdOf(payload: Uint8Array): string | null {
  return /^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)/im.exec(Buffer.from(payload.subarray(0, 2048)).toString("latin1"))?.[1] ?? null;
}

/** A send as the runner logs it during the run; hashing the payload waits for the end (sendRecord). */
type PendingSend = Omit<SendRecord, "hash" | "callId"> & { readonly payload: Uint8Array };

function send(source: TrafficSource, agent: string, datagram: Datagram): void {
  const sentUs = nowUs();
  const paced = agenda.runningScheduledUs !== null;
  const scheduledUs = earlyScheduledUs ?? agenda.runningScheduledUs ?? sentUs;
  // The run's last planned send goes even when its timer fires a little past the end, as the model sends
  // everything planned up to the end; a reaction after the end is not the run's.
  if (scheduledUs > spec.endUs) return;
  const aimedUs = earlyScheduledUs !== null ? aimOf(earlyScheduledUs) : (agenda.runningAimUs ?? sentUs);
  // Out first, bookkeeping after, and hashing only at the end: a send's work delays the next send due.
  let kernelUs: number | undefined;
  if (datagram.ipDatagram) {
    const [src, dst] = [parseAddress(datagram.src), parseAddress(datagram.dst)];
    const index = sends.length;
    // The record goes in below; python's times for it come back when the sender closes.
    rawSender!.send(isIpv6Number(src) ? rewriteIpv6(datagram.ipDatagram, { src, dst }) : rewriteIpv4(datagram.ipDatagram, { src, dst }), t0Ns + BigInt(Math.round(aimedUs * 1000)), (beforeNs, afterNs) => {
      sends[index] = { ...sends[index]!, sentUs: usSinceT0(beforeNs), kernelUs: usSinceT0(afterNs) };
    });
  } else if (datagram.transport) {
    writeToConnection(source, datagram);
  } else {
    // Replies to an address and port go to whoever sent from it last, as the model routes them
    // (a phone may reuse the port a scanner held on the same address).
    owners.set(`${datagram.src}:${datagram.sport}`, source);
    const bound = sockets.get(`${datagram.src}:${datagram.sport}`);
    if (bound) {
      bound.send(datagram.payload, datagram.dport, datagram.dst);
      kernelUs = nowUs();
    } else {
      void socketFor(datagram.src, datagram.sport, source).then((socket) => {
        socket.send(datagram.payload, datagram.dport, datagram.dst);
        record.kernelUs = nowUs();
      });
    }
  }
  const record: PendingSend = {
    source: source.name,
    agent,
    scheduledUs,
    aimedUs,
    sentUs,
    kernelUs,
    src: datagram.src,
    sport: datagram.sport,
    dst: datagram.dst,
    dport: datagram.dport,
    payload: datagram.payload,
    paced,
    ...(datagram.transport ? { transport: datagram.transport } : {}),
  };
  sends.push(record);
}

function sendRecord({ payload, ...pending }: PendingSend): SendRecord {
  return {
    ...pending,
    hash: createHash("sha1").update(payload).digest("hex").slice(0, 16),
    callId: callIdOf(payload),
    ...(pending.transport ? { requests: requestsInWrite(payload) } : {}),
  };
}

/** A replay cannot react, so its actions may run early: its datagrams wait for their time in the raw sender. */
const earlyRunning = new Set(scenario.traffic.filter((source) => source.kind === "replay" && own.has(source.name)).map((source) => source.name));
for (const source of sources) {
  const random = forkRandom(spec.seed, `source:${source.name}`);
  contexts.set(source, {
    now: nowUs,
    send: (agent, datagram) => send(source, agent, datagram),
    at: earlyRunning.has(source.name)
      ? (atUs, action) =>
          agenda.at(atUs - RAW_LEAD_US, () => {
            earlyScheduledUs = atUs;
            try {
              action();
            } finally {
              earlyScheduledUs = null;
            }
          })
      : (atUs, action) => agenda.at(atUs, action),
    random,
    record: (event) => events.push({ ...event, source: source.name }),
  });
}
// Every agent's socket is bound before the start, so the first packets leave on time.
await Promise.all(sources.filter((source) => !toolNames.has(source.name)).flatMap((source) => source.agents.map((endpoint) => socketFor(endpoint.address, endpoint.port, source))));
if (replays.size > 0) rawSender = await startRawSender();
await warmUp();
// The warm-up's garbage goes now, not in a collection during the run (node runs with --expose-gc).
(globalThis as { gc?: () => void }).gc?.();
writeFileSync(join(spec.out, readyFile(spec.name)), "");
const start = await startOfRun();
t0Perf = performanceTimeOf(start.t0MonotonicNs);
t0Ns = BigInt(start.t0MonotonicNs);
for (const source of sources) source.start(contexts.get(source)!);

// Real tools run as themselves, bound to their lab address; the firewall's log is their record.
const running: Array<ReturnType<typeof spawn>> = [];
for (const tool of tools) {
  const endpoint = sources.find((source) => source.name === tool.name)!.agents[0]!;
  const pbx = scenario.pbx;
  const command = toolCommand(tool, endpoint.address, endpoint.port, pbx.address, pbx.port);
  agenda.at(Math.round(tool.startSeconds * 1_000_000), () => {
    const log = openSync(join(spec.out, `tool-${tool.name}.log`), "w");
    running.push(spawn(command[0]!, command.slice(1), { stdio: ["ignore", log, log] }));
  });
}

await agenda.run();
for (const child of running) child.kill("SIGKILL");
await (rawSender as RawSender | null)?.close();
for (const socket of sockets.values()) socket.close();
writeFileSync(join(spec.out, `${spec.name}.sends.json`), JSON.stringify(sends.map(sendRecord)));
writeFileSync(join(spec.out, `${spec.name}.events.json`), JSON.stringify(events));
writeFileSync(join(spec.out, doneFile(spec.name)), String(sends.length));
// TCP connections stay open until the lab is taken down: closing them now would send FINs inside the
// run's verdict log, which the model, stopping at the run's end, never sends.
if (connections.size > 0) setTimeout(() => process.exit(0), 10 * 60_000);
else process.exit(0);

/** The start file, once the engine has written it (it renames it into place whole). */
async function startOfRun(): Promise<RunnerStart> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      return JSON.parse(readFileSync(join(spec.out, START_FILE), "utf8")) as RunnerStart;
    } catch {
      await sleep(2);
    }
  }
  throw new Error(`runner ${spec.name}: no start file after 60 s`);
}

/**
 * Runs the code the first packets need before the start: unwarmed, V8
 * compiles it on the first sends, which left a millisecond or more late, and
 * a limit's token grid is anchored on the first packet. The scenario's first
 * seconds in virtual time build and parse its messages; datagrams to the
 * container's own loopback exercise the send path and the agenda without
 * reaching the lab.
 */
async function warmUp(): Promise<void> {
  try {
    await new ModelEngine().run({ ...scenario, durationSeconds: Math.min(scenario.durationSeconds, 3) }, { seed: spec.seed });
  } catch {
    // Only a warm-up: the run itself reports what is wrong with the scenario.
  }
  const socket = dgram.createSocket({ type: "udp4", lookup: literalLookup });
  await new Promise<void>((resolve) => socket.bind({ address: "127.0.0.1", port: 0 }, resolve));
  const payload = new TextEncoder().encode("OPTIONS sip:warm-up@127.0.0.1 SIP/2.0\r\nCall-ID: warm-up\r\n\r\n");
  for (let i = 0; i < 200; i++) {
    socket.send(payload, 9, "127.0.0.1");
    createHash("sha1").update(payload).digest("hex");
    callIdOf(payload);
    nowUs();
  }
  // The agenda's own path (timers, turns, the busy wait, the continuation after it), cold
  // before the first send otherwise: 40 ms of loopback sends 1.7 ms apart.
  const rehearsalStart = performance.now();
  const rehearsal = new WallClockAgenda(() => Math.round((performance.now() - rehearsalStart) * 1000), 40_000);
  for (let atUs = 1000; atUs < 40_000; atUs += 1700) rehearsal.at(atUs, () => socket.send(payload, 9, "127.0.0.1"));
  await rehearsal.run();
  socket.close();
}
