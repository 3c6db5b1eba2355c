/**
 * Where a whole model run's time and memory go: a scanning botnet (N
 * addresses of a range, each walking extensions at 2 REGISTERs a second,
 * the default policy) run in this process under V8's sampling profiler,
 * its CPU summed by pipeline stage (by the file, or for shared helpers the
 * function, each sample's leaf frame is in), and the live heap measured
 * after a full collection at 60% of the run (what the run's state holds)
 * beside the process's peak resident memory (what its garbage adds).
 * Run: npm run build && node --expose-gc dist/bench/model-profile.js [--sources 10000] [--seconds 16]
 */
import { Session } from "node:inspector/promises";
import { runModel } from "../src/engines/model/model-engine.js";
import { packetsJudged } from "../src/verdict/run-result.js";
import { scanScenario } from "./scan-scenario.js";

const option = (name: string, fallback: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback);
const sources = option("--sources", 10_000);
const seconds = option("--seconds", 16);

const scenario = scanScenario(sources, seconds, seconds - 1);

/** Pipeline stages by where a sample's leaf frame is: a file of slamlab's, a shared helper by its name, or V8 and Node themselves. */
function stageOf(url: string, functionName: string): string {
  const path = url.replace(/^.*\/dist\//, "");
  if (functionName === "(garbage collector)") return "garbage collection";
  if (/^(encodeUtf8String|decodeUTF8|encode|decode|encodeInto)$/.test(functionName) || path === "") return /Hash|digest|update/.test(functionName) ? "digest (MD5 in node:crypto)" : path === "" && !/^(encodeUtf8String|decodeUTF8)$/.test(functionName) ? "V8 and Node (other)" : "UTF-8 encoding and decoding";
  // Buffer.from's UTF-8 write and the pooled Buffers that datagrams are made in.
  if (url === "node:buffer" || url === "node:internal/buffer") return "UTF-8 encoding and decoding";
  if (url.startsWith("node:")) return /Hash|digest|update/.test(functionName) ? "digest (MD5 in node:crypto)" : /encode|decode/.test(functionName) ? "UTF-8 encoding and decoding" : "V8 and Node (other)";
  // Building is what writes messages; the parser's helpers (its line and name scans, header lookups) count as parsing.
  if (path.startsWith("src/sip/sip-message")) return /^(formatRequest|formatResponse|headerLines|formatHead|utf8)$/.test(functionName) ? "SIP building" : "SIP parsing";
  if (path.startsWith("src/sip/digest")) return "digest (MD5 in node:crypto)";
  if (path.startsWith("src/sip/")) return "SIP parsing";
  if (path.startsWith("src/traffic/")) return "traffic agents";
  if (path.startsWith("src/net/")) return "IPv4/UDP encoding and addresses";
  if (path.startsWith("src/engines/model/asterisk-pbx") || path.startsWith("src/engines/model/pbx")) return "PBX model";
  if (path.startsWith("src/engines/model/conntrack")) return "conntrack";
  if (path.startsWith("src/engines/model/netfilter/") || path.startsWith("src/engines/model/nftables/")) return "filter (rules and matches)";
  if (path.startsWith("src/engines/model/event-queue")) return "event queue";
  if (path.startsWith("src/engines/model/")) return "engine loop (sends, replies, verdict records)";
  if (path.startsWith("src/verdict/")) return "outcome tally";
  return "other (scenario loading, the ruleset's compilation)";
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) console.log("(run with node --expose-gc for the live heap figure)");
let liveHeapBytes = 0;
const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.setSamplingInterval", { interval: 200 });
await session.post("Profiler.start");
const result = runModel(scenario, {
  keepVerdicts: false,
  onProgress: ({ virtualUs, durationUs }) => {
    if (liveHeapBytes === 0 && gc && virtualUs > durationUs * 0.6) {
      gc();
      liveHeapBytes = process.memoryUsage().heapUsed;
    }
  },
});
const { profile } = await session.post("Profiler.stop");
session.disconnect();

const selfUs = new Map<number, number>();
profile.samples!.forEach((id, index) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas![index] ?? 0)));
const byStage = new Map<string, number>();
let totalUs = 0;
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0;
  if (us === 0 || node.callFrame.functionName === "(idle)" || node.callFrame.functionName === "(program)") continue;
  const stage = stageOf(node.callFrame.url, node.callFrame.functionName);
  byStage.set(stage, (byStage.get(stage) ?? 0) + us);
  totalUs += us;
}
const packets = packetsJudged(result);
console.log(`model run: ${sources.toLocaleString("en-US")} sources, ${seconds} s, ${packets.toLocaleString("en-US")} packets judged in ${(result.wallMs / 1000).toFixed(1)} s: ${Math.round(packets / (result.wallMs / 1000)).toLocaleString("en-US")} packets/s end to end, ${((result.wallMs * 1000) / packets).toFixed(1)} µs a packet`);
console.log("CPU by stage (self time of the profiled samples):");
for (const [stage, us] of [...byStage].sort((a, b) => b[1] - a[1])) console.log(`  ${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${((us / packets) * 1).toFixed(2).padStart(6)} µs a packet  ${stage}`);
const peak = process.resourceUsage().maxRSS * 1024;
if (liveHeapBytes) console.log(`memory: live heap at 60% of the run ${(liveHeapBytes / 1e6).toFixed(1)} MB (${Math.round(liveHeapBytes / sources).toLocaleString("en-US")} bytes a source), peak resident ${(peak / 1e6).toFixed(0)} MB`);
else console.log(`memory: peak resident ${(peak / 1e6).toFixed(0)} MB`);
