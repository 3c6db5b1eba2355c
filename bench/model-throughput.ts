/**
 * Model-engine verdict throughput through the default policy, beside a
 * hand-written loop that decides the same ruleset for the same packets.
 *
 * A 1,000,000-packet REGISTER flood from 10,000 sources: source i starts at
 * i x 20 ms and sends 100 REGISTERs at 100 packets/s, so about 50 sources are
 * active at once (inside xt_recent's 100-entry table) and each is blocked on
 * its 10th REGISTER. Both loops must agree on every verdict; the ratio is what
 * to read, since absolute rates move with the machine.
 *
 * Run: npm run bench (or `npm run build && node dist/bench/model-throughput.js`).
 */
import { cpus } from "node:os";
import { generateRuleset } from "../src/firewall/generate-ruleset.js";
import { parseRuleset } from "../src/firewall/parse-ruleset.js";
import { defaultPolicy } from "../src/firewall/policy.js";
import { parseIpv4 } from "../src/net/address.js";
import { decodeIpv4, encodeIpv4Udp } from "../src/net/ipv4.js";
import type { Packet } from "../src/net/packet.js";
import { ConntrackTable } from "../src/engines/model/conntrack.js";
import { defaultKernelSettings } from "../src/engines/model/kernel-settings.js";
import { compileFirewall } from "../src/engines/model/netfilter/interpreter.js";
import { refilledContext, type MatchState } from "../src/engines/model/netfilter/match.js";
import { decideDefaultRuleset, decideWithConntrack, newHandWrittenConntrack, newHandWrittenState } from "./hand-written-default-ruleset.js";

const SOURCES = 10_000;
const PACKETS_PER_SOURCE = 100;
const SOURCE_STAGGER_US = 20_000;
const SEND_INTERVAL_US = 10_000;
const PBX = "198.51.100.10";

function buildFlood(): { packets: Packet[]; order: Uint32Array; jiffies: Float64Array } {
  const pbx = parseIpv4(PBX);
  const base = parseIpv4("198.18.128.0");
  const packets: Packet[] = [];
  for (let source = 0; source < SOURCES; source++) {
    const extension = 100 + (source % 900);
    const payload = new TextEncoder().encode(
      `REGISTER sip:${PBX} SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.${128 + (source >> 8)}.${source & 255}:5060;branch=z9hG4bK-${source};rport\r\n` +
        `From: "${extension}" <sip:${extension}@${PBX}>;tag=${source}\r\nTo: "${extension}" <sip:${extension}@${PBX}>\r\n` +
        `Call-ID: ${source}\r\nCSeq: 1 REGISTER\r\nContact: <sip:${extension}@198.18.0.1:5060>\r\nMax-Forwards: 70\r\n` +
        `User-Agent: friendly-scanner\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n`,
    );
    packets.push(decodeIpv4(encodeIpv4Udp({ src: base + source, dst: pbx, sport: 5060, dport: 5060, payload, ttl: 64, identification: source & 0xffff })));
  }
  const total = SOURCES * PACKETS_PER_SOURCE;
  const order = new Uint32Array(total);
  // Interleave by send time: a merge of the sources' schedules, built directly.
  const events: Array<[number, number]> = [];
  for (let source = 0; source < SOURCES; source++) {
    for (let n = 0; n < PACKETS_PER_SOURCE; n++) events.push([source * SOURCE_STAGGER_US + n * SEND_INTERVAL_US, source]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const jiffies = new Float64Array(total);
  for (let i = 0; i < total; i++) {
    const [time, source] = events[i]!;
    order[i] = source;
    jiffies[i] = defaultKernelSettings.startJiffies + Math.floor((time * defaultKernelSettings.hz) / 1_000_000);
  }
  return { packets, order, jiffies };
}

function runModel(packets: Packet[], order: Uint32Array, jiffies: Float64Array, withConntrack: boolean): { ms: number; dropped: number; verdicts: Uint8Array } {
  const rulesetText = generateRuleset(defaultPolicy, { pbxAddress: PBX });
  const state: MatchState = { settings: defaultKernelSettings, tables: new Map() };
  const firewall = compileFirewall(parseRuleset(rulesetText), state);
  const conntrack = new ConntrackTable(defaultKernelSettings);
  // The engine's own path: the packet's whole route, conntrack asked after the raw table (model-engine.ts).
  const tracker = conntrack.tracker();
  // One context reused for every packet, as the kernel reuses its per-CPU state: no allocation in the loop. It has the
  // fields of the route's own context, in its order: the matches then meet one shape of context in both loops, as in
  // the engine, where only routes judge (two shapes made every match's reads of it polymorphic in this bench).
  const context = refilledContext({ mark: 0, notrack: false, helper: "" });
  // Where each route starts, refilled per packet as the engine refills its own.
  const start = { jiffies: 0, clockNs: 0, outInterface: "", ingressJudged: false };
  const verdicts = new Uint8Array(order.length);
  let dropped = 0;
  const started = performance.now();
  for (let i = 0; i < order.length; i++) {
    const packet = packets[order[i]!]!;
    const now = jiffies[i]!;
    context.jiffies = now;
    if (withConntrack) {
      tracker.at(now);
      start.jiffies = now;
      start.clockNs = ((now - defaultKernelSettings.startJiffies) * 1e9) / defaultKernelSettings.hz;
      const judgement = firewall.judgeRoute("INPUT", packet, start, tracker);
      if (judgement.accepted) conntrack.commit(tracker.last());
      else {
        dropped++;
        verdicts[i] = 1;
      }
    } else if (!firewall.judge("INPUT", packet, context).accepted) {
      dropped++;
      verdicts[i] = 1;
    }
  }
  return { ms: performance.now() - started, dropped, verdicts };
}

function runHandWritten(packets: Packet[], order: Uint32Array, jiffies: Float64Array, withConntrack: boolean): { ms: number; dropped: number; verdicts: Uint8Array } {
  const state = newHandWrittenState(defaultKernelSettings);
  const conntrack = newHandWrittenConntrack(defaultKernelSettings);
  const verdicts = new Uint8Array(order.length);
  let dropped = 0;
  const started = performance.now();
  for (let i = 0; i < order.length; i++) {
    const packet = packets[order[i]!]!;
    if (!(withConntrack ? decideWithConntrack(state, conntrack, packet, jiffies[i]!) : decideDefaultRuleset(state, packet, jiffies[i]!))) {
      dropped++;
      verdicts[i] = 1;
    }
  }
  return { ms: performance.now() - started, dropped, verdicts };
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

const flood = buildFlood();
const total = flood.order.length;
const rate = (ms: number) => Math.round(total / (ms / 1000));
console.log(`model throughput: ${total.toLocaleString("en-US")} REGISTERs from ${SOURCES.toLocaleString("en-US")} sources, default policy (${cpus()[0]?.model ?? "cpu"}, node ${process.version})`);
// Each loop warmed up once so the JIT has compiled it, then five rounds taking turns (a busy moment falls on every loop alike), the best of each kept.
type Loop = { label: string; run: () => { ms: number; dropped: number; verdicts: Uint8Array } };
const loops: Loop[] = [
  { label: "hand-written default ruleset", run: () => runHandWritten(flood.packets, flood.order, flood.jiffies, false) },
  { label: "model: filter table only", run: () => runModel(flood.packets, flood.order, flood.jiffies, false) },
  { label: "hand-written, with conntrack", run: () => runHandWritten(flood.packets, flood.order, flood.jiffies, true) },
  { label: "model: conntrack + route (judgeRoute)", run: () => runModel(flood.packets, flood.order, flood.jiffies, true) },
];
const best = loops.map((loop) => loop.run());
for (let round = 0; round < 5; round++) {
  loops.forEach((loop, index) => {
    const next = loop.run();
    if (round === 0 || next.ms < best[index]!.ms) best[index] = next;
  });
}
for (let index = 1; index < loops.length; index++) {
  const difference = firstDifference(best[index]!.verdicts, best[0]!.verdicts);
  if (difference >= 0) {
    console.error(`${loops[index]!.label}: verdict differs from the hand-written loop at packet ${difference}`);
    process.exitCode = 1;
  }
}
// Each model loop against the hand loop doing the same work: the filter alone, then with conntrack.
loops.forEach((loop, index) => {
  const result = best[index]!;
  const baseline = best[index - (index % 2)]!;
  console.log(
    `${loop.label.padEnd(38)} ${rate(result.ms).toLocaleString("en-US").padStart(12)} verdicts/s  ${result.ms.toFixed(0).padStart(6)} ms  dropped ${result.dropped.toLocaleString("en-US")}  ratio ${(baseline.ms / result.ms).toFixed(2)}`,
  );
});
