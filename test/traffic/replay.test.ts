import { describe, expect, it } from "vitest";
import { pcapFile } from "../../src/capture/pcap-writer.js";
import { openCapture } from "../../src/capture/read-capture.js";
import { decodeFrame, type DecodedPacket } from "../../src/capture/decode-frame.js";
import { runModel } from "../../src/engines/model/model-engine.js";
import { FilterTrace } from "../../src/engines/model/filter-trace.js";
import { compileRulesetText } from "../../src/engines/model/compile-ruleset.js";
import { defaultKernelSettings } from "../../src/engines/model/kernel-settings.js";
import { ModelEngine } from "../../src/engines/model/model-engine.js";
import { encodeIpv4Udp } from "../../src/net/ipv4.js";
import { ScenarioError } from "../../src/scenario/scenario.js";
import { loadReplays } from "../../src/traffic/replay/load-replays.js";
import { writeTemp } from "../helpers/capture-files.js";
import { scenarioOf } from "../helpers/scenario.js";
import { haveSharedCaptures, sharedCapture } from "../helpers/shared-captures.js";

const encoder = new TextEncoder();
const register = (cseq: number) => encoder.encode(`REGISTER sip:203.0.113.9 SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bK${cseq}\r\nFrom: <sip:100@x>;tag=a\r\nTo: <sip:100@x>\r\nCall-ID: c\r\nCSeq: ${cseq} REGISTER\r\n\r\n`);

/** A capture in the capture's own addresses: 10.1.1.1 attacks 10.9.9.9 (never used as lab addresses). */
function attackCapture(count: number, options: { ttl?: number; ipOptions?: Uint8Array; fragmentTiny?: boolean; gapNs?: bigint } = {}): string {
  const records = [];
  for (let i = 0; i < count; i++) {
    const timestampNs = 1_600_000_000_000_000_000n + BigInt(i) * (options.gapNs ?? 200_000_000n);
    const datagram = encodeIpv4Udp({ src: 0x0a010101, dst: 0x0a090909, sport: 5070, dport: 5060, payload: register(i + 1), ttl: options.ttl ?? 51, identification: 1000 + i, dontFragment: false, ...(options.ipOptions ? { options: options.ipOptions } : {}) });
    if (!options.fragmentTiny) {
      records.push({ timestampNs, data: datagram });
      continue;
    }
    // The tiny-fragment trick: the first fragment carries the UDP header and 8 bytes ("REGISTER" without its space).
    const header = datagram.subarray(0, 20);
    const body = datagram.subarray(20);
    for (const [start, end, more] of [[0, 16, true], [16, body.length, false]] as const) {
      const fragment = new Uint8Array(20 + end - start);
      fragment.set(header, 0);
      fragment.set(body.subarray(start, end), 20);
      const view = new DataView(fragment.buffer);
      view.setUint16(2, fragment.length);
      view.setUint16(6, (more ? 0x2000 : 0) | (start / 8));
      view.setUint16(10, 0);
      records.push({ timestampNs: timestampNs + BigInt(start), data: fragment });
    }
  }
  return writeTemp(pcapFile(101, records));
}

function replayScenario(file: string, extra: Record<string, unknown> = {}, durationSeconds = 60) {
  return scenarioOf({
    name: "replay",
    description: "replay",
    durationSeconds,
    pbx: { accounts: [{ users: "100-199", password: "p" }] },
    hosts: { attackers: { kind: "range", cidr: "198.18.90.0/24", count: 4 } },
    traffic: [{ name: "attack", kind: "replay", host: "attackers", file, ...extra }],
  });
}

async function run(scenario: ReturnType<typeof replayScenario>, options = {}) {
  return runModel(scenario, options, await loadReplays(scenario));
}

describe("replaying a capture", () => {
  it("maps the capture's attacker onto a lab address and its PBX onto the lab PBX, and the default policy blocks it at its 10th REGISTER", async () => {
    const result = await run(replayScenario(attackCapture(30)));
    const sent = result.verdicts.filter((v) => v.direction === "to-pbx");
    expect(sent).toHaveLength(30);
    expect(new Set(sent.map((v) => `${v.srcAddr}>${v.dstAddr}:${v.dstPort}`))).toEqual(new Set(["198.18.90.1>198.51.100.10:5060"]));
    expect(sent.findIndex((v) => v.verdict === "dropped")).toBe(9);
    expect(sent[0]!.agent).toBe("10.1.1.1");
  });

  it("keeps every IP header byte but the addresses and checksums: TTL, identification, options", async () => {
    const options = Uint8Array.of(0x94, 0x04, 0x00, 0x00); // router alert
    const result = await run(replayScenario(attackCapture(3, { ttl: 51, ipOptions: options })), { keepPackets: true });
    const first = result.verdicts.find((v) => v.direction === "to-pbx")!;
    const bytes = result.packets![first.packetId]!;
    expect(bytes[8]).toBe(51);
    expect((bytes[4]! << 8) | bytes[5]!).toBe(1000);
    expect(Array.from(bytes.subarray(20, 24))).toEqual(Array.from(options));
    // And IP options push the payload past the generated rule's --to 37: the anchored string match misses it.
    expect(result.verdicts.filter((v) => v.direction === "to-pbx").every((v) => v.verdict === "delivered")).toBe(true);
  });

  it("keeps the capture's timing, divided by the speed factor, inside the time window", async () => {
    const file = attackCapture(20, { gapNs: 1_000_000_000n });
    const result = await run(replayScenario(file, { speed: 2, fromSeconds: 5, toSeconds: 14, startSeconds: 1 }, 60), {});
    const times = result.verdicts.filter((v) => v.direction === "to-pbx").map((v) => v.atUs / 1e6);
    expect(times).toEqual([1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5]);
  });

  it("tiny fragments: behind conntrack's defragmentation the filter sees whole REGISTERs; without it the string match never fires", async () => {
    const file = attackCapture(30, { fragmentTiny: true });
    const defragmented = await run(replayScenario(file));
    const judged = defragmented.verdicts.filter((v) => v.direction === "to-pbx");
    expect(judged).toHaveLength(30);
    expect(judged.findIndex((v) => v.verdict === "dropped")).toBe(9);
    const raw = await run(replayScenario(file), { kernel: { defragment: false } });
    const fragments = raw.verdicts.filter((v) => v.direction === "to-pbx");
    expect(fragments).toHaveLength(60);
    expect(fragments.every((v) => v.verdict === "delivered")).toBe(true);
    // The PBX's own stack reassembles them: every REGISTER is answered.
    expect(raw.verdicts.filter((v) => v.direction === "from-pbx")).toHaveLength(30);
  });

  it("tiny fragments meet nftables' ingress before reassembly: a netdev chain dropping later fragments stops every REGISTER, fragment by fragment", async () => {
    const file = attackCapture(5, { fragmentTiny: true });
    const ingress = [
      "table netdev filter {",
      "  chain ingress {",
      '    type filter hook ingress device "eth0" priority -500; policy accept;',
      "    ip frag-off & 0x1fff != 0 counter drop",
      "  }",
      "}",
      "",
    ].join("\n");
    const scenario = replayScenario(file);
    const trace = new FilterTrace();
    const result = runModel({ ...scenario, firewall: { kind: "ruleset", path: "ingress.nft", text: ingress } }, {}, await loadReplays(scenario), trace);
    const judged = result.verdicts.filter((v) => v.direction === "to-pbx");
    // Each first fragment passes ingress and waits for its second, which ingress drops: nothing is reassembled or answered.
    expect(judged).toHaveLength(5);
    expect(judged.every((v) => v.verdict === "dropped" && v.rule.chain === "netdev filter ingress")).toBe(true);
    expect(result.verdicts.filter((v) => v.direction === "from-pbx")).toHaveLength(0);
    // tune's reuse of runs: the trace holds the datagrams the route judged, not what ingress saw, so it proves nothing, not even for the run's own ruleset.
    expect(trace.judgedAlike(compileRulesetText(ingress, "ingress.nft", { settings: defaultKernelSettings, tables: new Map() }))).toBe(false);
  });

  it.skipIf(!haveSharedCaptures)("says when the capture has more clients than the host has addresses", async () => {
    const scenario = scenarioOf({
      name: "r",
      description: "r",
      durationSeconds: 10,
      hosts: { one: { kind: "addresses", addresses: ["198.18.1.1"] } },
      traffic: [{ name: "scan", kind: "replay", host: "one", file: sharedCapture("lbnl_BadUserAgent-sipvicious.pcap") }],
      pbx: { accounts: [{ users: "1-2", password: "p" }] },
    });
    await expect(loadReplays(scenario)).rejects.toThrow(/has 11 IPv4 client addresses but host one has 1; give the host a range with at least 11 IPv4 addresses/);
  });

  it("refuses a capture with no SIP for the PBX, naming what it skipped", async () => {
    const notSip = writeTemp(pcapFile(101, [{ timestampNs: 0n, data: encodeIpv4Udp({ src: 0x0a010101, dst: 0x0a090909, sport: 53, dport: 53, payload: encoder.encode("dns?") }) }]));
    const error = await loadReplays(replayScenario(notSip, { pbxAddress: "10.9.9.9" })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ScenarioError);
    expect(String(error)).toMatch(/no SIP or IAX2 packets to or from 10\.9\.9\.9 .*skipped: 1 not SIP/);
  });

  it("an IAX2 capture: its frames on iax2Ports are replayed to the PBX that the calls it opens name; with iax2Ports empty it says it holds IAX2 and which field to change, without asking for pbxAddress", async () => {
    // IAX2 full frames (RFC 5456): REGREQs opening calls (destination call 0), binary, on UDP 4569.
    const iax = (index: number) => encodeIpv4Udp({ src: 0x0a010101, dst: 0x0a090909, sport: 4569, dport: 4569, payload: new Uint8Array([0x80, 0x01, 0x00, 0x00, 0, 0, 0, index, 0, 1, 0x06, 0x0d]) });
    const capture = writeTemp(pcapFile(101, Array.from({ length: 5 }, (_, index) => ({ timestampNs: BigInt(index) * 1_000_000n, data: iax(index) }))));
    const plan = [...(await loadReplays(replayScenario(capture))).values()][0]!;
    expect(plan.capturePbx).toEqual(["10.9.9.9"]);
    expect(plan.packets.map((packet) => [packet.dport, packet.toPbx])).toEqual(Array.from({ length: 5 }, () => [4569, true]));
    const skipping = await loadReplays(replayScenario(capture, { iax2Ports: [] })).catch((caught: unknown) => caught);
    expect(String(skipping)).toMatch(/holds no SIP request or IAX2 call to replay \(skipped: 5 IAX2 on a port not in iax2Ports\); its IAX2 runs on a port iax2Ports does not list: add that port to the replay's iax2Ports/);
    expect(String(skipping)).not.toMatch(/pbxAddress/);
    // A SIP port list naming 4569 does not make IAX2 SIP.
    const onPort = await loadReplays(replayScenario(capture, { pbxAddress: "10.9.9.9", sipPorts: [5060, 4569], iax2Ports: [] })).catch((caught: unknown) => caught);
    expect(String(onPort)).toMatch(/no SIP or IAX2 packets to or from 10\.9\.9\.9 .*skipped: 5 IAX2 on a port not in iax2Ports/);
  });

  it("HTTP among the SIP is skipped as HTTP, by name", async () => {
    const http = encodeIpv4Udp({ src: 0x0a010102, dst: 0x0a090909, sport: 40000, dport: 5060, payload: encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n") });
    const sip = encodeIpv4Udp({ src: 0x0a010101, dst: 0x0a090909, sport: 5070, dport: 5060, payload: register(1) });
    const capture = writeTemp(pcapFile(101, [{ timestampNs: 0n, data: sip }, { timestampNs: 1000n, data: http }]));
    const plans = await loadReplays(replayScenario(capture, { pbxAddress: "10.9.9.9" }));
    const plan = [...plans.values()][0]!;
    expect(plan.packets).toHaveLength(1);
    expect(plan.skipped).toEqual({ "HTTP, not SIP": 1 });
  });
});

describe.skipIf(!haveSharedCaptures)("replaying the public LBNL brute force", () => {
  it("blocks the real attacker at its 10th REGISTER, against both of the capture's registrars mapped onto the lab PBX", async () => {
    const scenario = replayScenario(sharedCapture("lbnl_SIP-Bruteforce-Single-IP.pcap"), { speed: 60 }, 600);
    const report = await new ModelEngine().run(scenario);
    const sent = report.verdicts.filter((v) => v.direction === "to-pbx");
    expect(sent).toHaveLength(1626);
    expect(sent.findIndex((v) => v.verdict === "dropped")).toBe(9);
    const capture = await openCapture(sharedCapture("lbnl_SIP-Bruteforce-Single-IP.pcap"));
    let ttl = 0;
    for await (const frame of capture) {
      ttl = (decodeFrame(frame) as DecodedPacket).ttl;
      break;
    }
    expect(ttl).toBeGreaterThan(0);
  });
});
