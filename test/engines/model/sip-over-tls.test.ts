import { describe, expect, it } from "vitest";
import { runModel } from "../../../src/engines/model/model-engine.js";
import { policySchema } from "../../../src/firewall/policy.js";
import { scenarioOf, streamFlood } from "../../helpers/scenario.js";

const tlsFlood = (flood: Record<string, unknown> = {}, policy?: Record<string, unknown>) => streamFlood("tls", flood, policy);

const reachedPbx = (result: ReturnType<typeof runModel>) => result.securityEvents?.flood?.ChallengeSent ?? 0;
/** The TCP payload of a judged IPv4 packet. */
const payloadOf = (packet: Uint8Array) => {
  const ipHeader = (packet[0]! & 0x0f) * 4;
  return packet.subarray(ipHeader + (packet[ipHeader + 12]! >> 4) * 4);
};

describe("SIP over TLS on the model engine", () => {
  it("a flood connects to the TLS port, shakes hands as the lab's ends do, and every request is a record no rule can read", () => {
    const result = runModel(tlsFlood(), { keepPackets: true }, new Map());
    const toPbx = result.verdicts.filter((verdict) => verdict.direction === "to-pbx");
    expect(toPbx.every((verdict) => verdict.protocol === "tcp" && verdict.dstPort === 5061)).toBe(true);
    expect(result.verdicts.filter((verdict) => verdict.sipMethod !== null)).toEqual([]);
    const data = result.verdicts.map((verdict) => ({ verdict, payload: payloadOf(result.packets![verdict.packetId]!) })).filter((each) => each.payload.length > 0);
    // ClientHello (1,566 bytes: one packet to netfilter, GSO and GRO), the server's flight (2,505), the client's Finished with the probe.
    expect(data.slice(0, 3).map((each) => [each.verdict.direction, each.payload.length])).toEqual([
      ["to-pbx", 1566],
      ["from-pbx", 2505],
      ["to-pbx", 509],
    ]);
    expect([...data[0]!.payload.subarray(0, 6)]).toEqual([0x16, 3, 1, 1561 >> 8, 1561 & 0xff, 1]);
    expect([...data[2]!.payload.subarray(0, 6)]).toEqual([0x14, 3, 3, 0, 1, 1]);
    // Each later request is one application-data record: 22 bytes over its plaintext, never "REGISTER" on the wire.
    const later = data.filter((each) => each.verdict.direction === "to-pbx").slice(2);
    expect(later.length).toBeGreaterThan(50);
    for (const { payload } of later) {
      expect(payload[0]).toBe(0x17);
      expect((payload[3]! << 8) | payload[4]!).toBe(payload.length - 5);
      expect(Buffer.from(payload).includes("REGISTER")).toBe(false);
    }
    // The method match counts nothing over TLS: all 100 reach the PBX.
    expect(reachedPbx(result)).toBe(100);
  });

  it("a policy counting TLS writes blocks it: the ClientHello and the Finished count, then each request", () => {
    const result = runModel(tlsFlood({}, { sip: { transports: ["udp", "tcp"] }, tls: {} }), {}, new Map());
    // Ten writes in 60 s block: the handshake's two and eight requests (the Finished carries the probe).
    expect(reachedPbx(result)).toBe(8);
    expect(result.verdicts.filter((verdict) => verdict.verdict === "dropped").length).toBeGreaterThan(0);
    // Counting TCP writes on the SIP port as well does not count a TLS write twice.
    expect(reachedPbx(runModel(tlsFlood({}, { sip: { transports: ["udp", "tcp"], tcpCount: "writes" }, tls: {} }), {}, new Map()))).toBe(8);
  });

  it("phones over TLS register over their connections, three writes each, under the limit", () => {
    const scenario = scenarioOf(
      {
        name: "tls-office",
        description: "phones over TLS",
        durationSeconds: 5,
        pbx: { address: "198.51.100.10", accounts: [{ users: "200-219", password: "pbx-{user}-Str0ng" }] },
        hosts: { office: { kind: "addresses", addresses: ["198.18.20.1", "198.18.20.2"] } },
        traffic: [{ name: "phones", kind: "phones", host: "office", transport: "tls", count: 2, accounts: "200-201", startSeconds: 1 }],
      },
      { policy: policySchema.parse({ tls: {} }) },
    );
    const result = runModel(scenario, {}, new Map());
    expect(result.events.filter((event) => event.kind === "registered")).toHaveLength(2);
    expect(result.verdicts.every((verdict) => verdict.protocol === "tcp" && verdict.verdict === "delivered")).toBe(true);
    expect(result.securityEvents?.phones).toEqual({ ChallengeSent: 2, SuccessfulAuth: 2 });
    // As the lab's kernel sends them: SYN, ACK, ClientHello, ACK of the server's flight, Finished with the REGISTER, an ACK at
    // once for the tickets and the 401 (two small pushed segments, ACKed before the phone answers), the second REGISTER, and
    // the 200's ACK delayed 40 ms (the phone answers within the delayed-ACK time, so it is in pingpong mode).
    const phone = result.verdicts.filter((verdict) => verdict.agent === result.verdicts[0]!.agent);
    const sent = phone.filter((verdict) => verdict.direction === "to-pbx");
    expect(sent).toHaveLength(8);
    const ackDelayUs = sent.at(-1)!.atUs - phone.filter((verdict) => verdict.direction === "from-pbx").at(-1)!.atUs;
    expect(ackDelayUs).toBeGreaterThanOrEqual(40_000);
    expect(ackDelayUs).toBeLessThan(41_000);
  });

  it("a connection per request (sourcePort random) shakes hands every time", () => {
    const result = runModel(tlsFlood({ sourcePort: "random", durationSeconds: 1 }), {}, new Map());
    expect(result.verdicts.filter((verdict) => verdict.ctState === "NEW" && verdict.direction === "to-pbx")).toHaveLength(20);
    expect(reachedPbx(result)).toBe(20);
  });

  it("a dropped ClientHello is resent as Linux resends a packet of two MSS: the tail probe its last piece, the timeout its first MSS without PSH", () => {
    // The first big packet to the TLS port is dropped, any later one let through.
    const rules = [
      "*filter",
      ":INPUT ACCEPT [0:0]",
      ":FORWARD ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      "-A INPUT -p tcp -m tcp --dport 5061 -m length --length 1400:65535 -m recent --rcheck --name SEEN --rsource -j ACCEPT",
      "-A INPUT -p tcp -m tcp --dport 5061 -m length --length 1400:65535 -m recent --set --name SEEN --rsource -j DROP",
      "COMMIT",
      "",
    ].join("\n");
    const scenario = scenarioOf(
      {
        name: "tls-hello-lost",
        description: "a ClientHello dropped once",
        durationSeconds: 2,
        pbx: { address: "198.51.100.10", accounts: [{ users: "200-219", password: "pbx-{user}-Str0ng" }] },
        hosts: { office: { kind: "addresses", addresses: ["198.18.20.1"] } },
        traffic: [{ name: "phones", kind: "phones", host: "office", transport: "tls", count: 1, accounts: "200-200", startSeconds: 0.1 }],
      },
      { rulesetText: rules },
    );
    const result = runModel(scenario, { keepPackets: true }, new Map());
    const sent = result.verdicts
      .filter((verdict) => verdict.direction === "to-pbx")
      .map((verdict) => {
        const packet = result.packets![verdict.packetId]!;
        const ipHeader = (packet[0]! & 0x0f) * 4;
        return { atUs: verdict.atUs, verdict: verdict.verdict, data: payloadOf(packet).length, push: (packet[ipHeader + 13]! & 0x08) !== 0 };
      })
      .filter((each) => each.data > 0);
    const [hello, probe, first] = sent;
    expect(hello).toMatchObject({ verdict: "dropped", data: 1566, push: true });
    expect(probe).toMatchObject({ verdict: "delivered", data: 118, push: true });
    expect(probe!.atUs - hello!.atUs).toBe(8_000);
    expect(first).toMatchObject({ verdict: "delivered", data: 1448, push: false });
    expect(first!.atUs - hello!.atUs).toBe(208_000);
    expect(result.events.filter((event) => event.kind === "registered")).toHaveLength(1);
  });
});
