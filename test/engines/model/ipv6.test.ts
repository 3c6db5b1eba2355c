import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "../../../src/cli/run-scenario.js";
import { runModel } from "../../../src/engines/model/model-engine.js";
import { decodeIpv6, encodeIpv6Udp } from "../../../src/net/ipv6.js";
import { encodeIpv4Udp } from "../../../src/net/ipv4.js";
import { parseAddress } from "../../../src/net/address-number.js";
import { pcapFile } from "../../../src/capture/pcap-writer.js";
import { loadReplays } from "../../../src/traffic/replay/load-replays.js";
import { loadScenario } from "../../../src/scenario/load-scenario.js";
import { ModelEngine } from "../../../src/engines/model/model-engine.js";
import { scratchDirectory } from "../../helpers/scratch-directory.js";

const ROTATION = join(import.meta.dirname, "../../../scenarios/ipv6-rotation.yaml");
const engine = new ModelEngine();

describe("IPv6 on the model engine", () => {
  it("a scanner rotating through its /64 is never blocked by per-address counting, and blocked at its 12th request by per-/64 counting", async () => {
    const perAddress = await runScenario(loadScenario(ROTATION, null), engine);
    expect(perAddress.expectations.filter((expectation) => !expectation.passed)).toEqual([]);
    const rotation = perAddress.outcomes.find((outcome) => outcome.source === "rotation")!;
    expect([rotation.sent, rotation.dropped]).toEqual([300, 0]);
    const per64 = await runScenario(loadScenario(ROTATION, "per-64"), engine);
    expect(per64.expectations.filter((expectation) => !expectation.passed)).toEqual([]);
    const blocked = per64.outcomes.find((outcome) => outcome.source === "rotation")!;
    // Outcomes count an IPv6 source per /64: one attacker, blocked at its 12th request by ip6tables' rule 2.
    expect(blocked.addresses.map((address) => [address.address, address.packetsToBlock, address.keptBlocked])).toEqual([["2001:db8:bad:1::/64", 12, true]]);
    expect(blocked.dropsByRule.map((rule) => rule.rule)).toEqual(["ip6:INPUT:2"]);
  });

  it("sends real IPv6 datagrams: each request from the next address, SIP naming IPv6 hosts in brackets, the PBX answering from its IPv6 address", () => {
    const result = runModel(loadScenario(ROTATION, "per-64"), { keepPackets: true });
    const flood = result.verdicts.filter((verdict) => verdict.source === "rotation");
    const requests = flood.filter((verdict) => verdict.direction === "to-pbx");
    expect(requests.slice(0, 3).map((verdict) => [verdict.srcAddr, verdict.dstAddr, verdict.verdict])).toEqual([
      ["2001:db8:bad:1::1", "2001:db8:100::10", "delivered"],
      ["2001:db8:bad:1::2", "2001:db8:100::10", "delivered"],
      ["2001:db8:bad:1::3", "2001:db8:100::10", "delivered"],
    ]);
    expect(requests[11]).toMatchObject({ srcAddr: "2001:db8:bad:1::c", verdict: "dropped", rule: { chain: "INPUT", index: 2, family: 6 } });
    const first = decodeIpv6(result.packets![requests[0]!.packetId]!);
    expect([first.family, first.protocol, first.ttl, first.bytes[0]! >> 4]).toEqual([6, 17, 64, 6]);
    const text = Buffer.from(first.bytes.subarray(first.payloadOffset)).toString("latin1");
    expect(text).toMatch(/^REGISTER sip:\d+@\[2001:db8:100::10\] SIP\/2\.0\r\nVia: SIP\/2\.0\/UDP \[2001:db8:bad:1::1\]:5060;/);
    const answer = flood.find((verdict) => verdict.direction === "from-pbx")!;
    expect([answer.srcAddr, answer.dstAddr]).toEqual(["2001:db8:100::10", "2001:db8:bad:1::1"]);
    // The office's phones register over IPv6 too, from their own /64.
    expect(result.verdicts.filter((verdict) => verdict.source === "office").every((verdict) => verdict.srcAddr.startsWith("2001:db8:600d:1::") || verdict.dstAddr.startsWith("2001:db8:600d:1::"))).toBe(true);
  });

  it("an nftables policy's inet table judges IPv6 packets itself: the rotation counted per /64, blocked at its 10th request", async () => {
    const report = await runScenario(loadScenario(join(import.meta.dirname, "../../fixtures/ipv6/rotation-nft.yaml"), null), engine);
    expect(report.result.rulesetText).toMatch(/table inet slamlab/);
    expect(report.result.ipv6RulesetText).toBeUndefined();
    const rotation = report.outcomes.find((outcome) => outcome.source === "rotation")!;
    expect([rotation.packetsToBlock, rotation.addresses[0]!.keptBlocked]).toEqual([10, true]);
    expect(report.outcomes.find((outcome) => outcome.source === "office")!.dropped).toBe(0);
  });

  it("replays an IPv6 capture: its IPv6 clients take the host's IPv6 addresses and reach the PBX's IPv6 address, its IPv4 ones the IPv4", async () => {
    const directory = scratchDirectory("ipv6-replay");
    const register = (index: number) => Uint8Array.from(Buffer.from(`REGISTER sip:pbx SIP/2.0\r\nVia: SIP/2.0/UDP host;branch=z9hG4bK${index}\r\nCSeq: ${index + 1} REGISTER\r\nCall-ID: c${index}\r\n\r\n`, "latin1"));
    // A scanner walking its /64 to a registrar on IPv6, and a phone registering over IPv4 to another.
    const records = [
      ...Array.from({ length: 30 }, (_, index) => ({
        timestampNs: BigInt(index) * 50_000_000n,
        data: encodeIpv6Udp({ src: parseAddress(`2001:db8:c0de:1::${index + 1}`), dst: parseAddress("2001:db8:5ee::5060"), sport: 5060, dport: 5060, payload: register(index), hopLimit: 57 }),
      })),
      ...Array.from({ length: 3 }, (_, index) => ({ timestampNs: 100_000_000n + BigInt(index) * 500_000_000n, data: encodeIpv4Udp({ src: parseAddress("198.51.100.77"), dst: parseAddress("198.51.100.5"), sport: 5062, dport: 5060, payload: register(100 + index) }) })),
    ];
    writeFileSync(join(directory, "walk6.pcap"), pcapFile(101, records));
    const rules = join(import.meta.dirname, "../../../scenarios");
    writeFileSync(
      join(directory, "replay6.yaml"),
      [
        "name: replay6",
        "description: an IPv6 capture replayed",
        "durationSeconds: 5",
        "firewall:",
        `  ruleset: ${rules}/ipv6-rotation.rules`,
        `  ruleset6: ${rules}/ipv6-rotation-per-64.v6`,
        "pbx:",
        "  address6: 2001:db8:100::10",
        "hosts:",
        "  replayed:",
        "    kind: addresses",
        '    addresses: ["198.18.7.7", "2001:db8:bad:7::1"]',
        "  walkers:",
        "    kind: range",
        "    cidr: 2001:db8:bad:9::/64",
        "    count: 40",
        "traffic:",
        "  - name: walk",
        "    kind: replay",
        "    host: walkers",
        "    file: walk6.pcap",
        "    pbxAddress: 2001:db8:5ee::5060",
        "  - name: mixed",
        "    kind: replay",
        "    host: replayed",
        "    file: walk6.pcap",
        "    pbxAddress: [198.51.100.5]",
        "expect:",
        "  - source: walk",
        "    blockedWithinPackets: 12",
        "",
      ].join("\n"),
    );
    const result = runModel(loadScenario(join(directory, "replay6.yaml"), null), { keepPackets: true }, await loadReplays(loadScenario(join(directory, "replay6.yaml"), null)));
    const walk = result.verdicts.filter((verdict) => verdict.source === "walk" && verdict.direction === "to-pbx");
    expect(walk.slice(0, 2).map((verdict) => [verdict.srcAddr, verdict.dstAddr])).toEqual([
      ["2001:db8:bad:9::1", "2001:db8:100::10"],
      ["2001:db8:bad:9::2", "2001:db8:100::10"],
    ]);
    // Per /64: the first 11 pass, then the walk is blocked whatever address it takes.
    expect(walk.map((verdict) => verdict.verdict)).toEqual([...Array<string>(11).fill("delivered"), ...Array<string>(19).fill("dropped")]);
    // The captured bytes but the addresses: its hop limit, its payload.
    const first = decodeIpv6(result.packets![walk[0]!.packetId]!);
    expect([first.ttl, Buffer.from(first.bytes.subarray(first.payloadOffset)).toString("latin1")]).toEqual([57, Buffer.from(register(0)).toString("latin1")]);
    const mixed = result.verdicts.filter((verdict) => verdict.source === "mixed" && verdict.direction === "to-pbx");
    expect(mixed.map((verdict) => [verdict.srcAddr, verdict.dstAddr, verdict.verdict])).toEqual(Array.from({ length: 3 }, () => ["198.18.7.7", "198.51.100.10", "delivered"]));
  });

  it("a dual-stack office: its IPv4 phones behind the NAT's one address, its IPv6 phones each from its own address in the office's /64, counted there as one source", async () => {
    const result = runModel(loadScenario(join(import.meta.dirname, "../../fixtures/ipv6/dual-stack-office.yaml"), null));
    const from = (source: string) => [...new Set(result.verdicts.filter((verdict) => verdict.source === source && verdict.direction === "to-pbx").map((verdict) => `${verdict.srcAddr} > ${verdict.dstAddr}`))].sort();
    expect(from("phones4")).toEqual(["198.18.50.1 > 198.51.100.10"]);
    expect(from("phones6")).toEqual(["10", "11", "12", "13", "14", "15"].map((host) => `2001:db8:600d:50::${host} > 2001:db8:100::10`));
    // The generated policy counts an IPv6 source per /64: the office's 12 REGISTERs there are one source's, as its IPv4 ones behind the NAT are.
    const blockedAt = (source: string) => result.verdicts.filter((verdict) => verdict.source === source && verdict.direction === "to-pbx").findIndex((verdict) => verdict.verdict === "dropped") + 1;
    expect([blockedAt("phones4"), blockedAt("phones6")]).toEqual([10, 10]);
    expect(result.verdicts.find((verdict) => verdict.source === "phones6" && verdict.verdict === "dropped")!.rule).toMatchObject({ chain: "SLAM-BLOCK", family: 6 });
  });

  it("refuses what it cannot run over IPv6 yet, saying what to give instead", () => {
    const directory = scratchDirectory("ipv6-scenarios");
    const refusal = (patch: (text: string) => string): string => {
      const file = join(directory, `case-${Math.random().toString(36).slice(2)}.yaml`);
      const text = patch(
        `name: v6\ndescription: an IPv6 case\ndurationSeconds: 5\nfirewall:\n  policy: default\npbx:\n  address6: 2001:db8:100::10\n  accounts:\n    - users: 200-201\n      password: x\nhosts:\n  six:\n    kind: addresses\n    addresses: ["2001:db8:bad::1"]\ntraffic:\n  - name: flood\n    kind: register-flood\n    host: six\n    ratePps: 5\n    durationSeconds: 2\nexpect:\n  - source: flood\n    neverBlocked: true\n`,
      );
      writeFileSync(file, text);
      try {
        loadScenario(file, null);
      } catch (error) {
        return (error as Error).message;
      }
      return "loaded";
    };
    // A generated policy writes ip6tables rules of its own, or one inet table with format nft.
    expect(refusal((text) => text)).toBe("loaded");
    expect(refusal((text) => text.replace("  policy: default\n", "  policy: default\n  format: nft\n"))).toBe("loaded");
    const withRules = (text: string) => text.replace("  policy: default", `  ruleset: ${join(import.meta.dirname, "../../fixtures/ipv6/rules.v4")}\n  ruleset6: ${join(import.meta.dirname, "../../fixtures/ipv6/per-64.v6")}`);
    expect(refusal(withRules)).toBe("loaded");
    expect(refusal((text) => withRules(text).replace("  address6: 2001:db8:100::10\n", ""))).toMatch(/hosts\.six: has IPv6 addresses, but the PBX has none: give pbx\.address6/);
    expect(refusal((text) => withRules(text).replace("    durationSeconds: 2\n", "    durationSeconds: 2\n    transport: tcp\n"))).toMatch(/traffic\[0\]\.host: host six sends over IPv6, which slamlab runs for phones and register-flood over UDP and replays so far; give this register-flood over tcp an IPv4 host/);
    expect(refusal((text) => withRules(text).replace("2001:db8:bad::1", "2a00:1450::1"))).toMatch(/lab IPv6 addresses must be in 2001:db8::\/32 or 2001:2::\/48/);
    const ipv4Saved = join(directory, "saved.v4");
    writeFileSync(ipv4Saved, "# Generated by iptables-save v1.8.9 (nf_tables)\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n");
    expect(refusal((text) => withRules(text).replace(/ruleset6: .*/, `ruleset6: ${ipv4Saved}`))).toMatch(/saved\.v4: line 1: this is iptables-save output \(IPv4 rules\) where IPv6 rules go/);
  });
});
