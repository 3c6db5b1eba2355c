import { describe, expect, it } from "vitest";
import { createIax2Pbx } from "../../../src/engines/model/iax2-pbx.js";
import type { SecurityLogLine } from "../../../src/engines/model/asterisk-pbx.js";
import { runModel } from "../../../src/engines/model/model-engine.js";
import { decodeFullFrame, elementShort, elementString, encodeFullFrame, FRAME_TYPE_IAX, IaxCommand, IaxIe, shortElement, stringElement, type InformationElement } from "../../../src/iax2/iax2-frame.js";
import { iaxMd5Result } from "../../../src/traffic/iax2-call.js";
import { loadReplays } from "../../../src/traffic/replay/load-replays.js";
import { attackOutcomes } from "../../../src/verdict/attack-outcome.js";
import { computeOutcomes } from "../../../src/verdict/outcomes.js";
import { ASTERISK_CPU_US_PER_REQUEST } from "../../../src/verdict/pbx-cost.js";
import type { Datagram } from "../../../src/traffic/agent.js";
import { acceptAll, scenarioOf } from "../../helpers/scenario.js";

const pbxSpec = { address: "198.51.100.10", port: 5060, iax2Port: 4569, tlsPort: 5061, realm: "asterisk", interface: "eth0", accounts: [{ users: "200-209", password: "iax-{user}" }] };

const frame = (from: string, subclass: number, elements: InformationElement[], calls: { source: number; destination?: number; outSeq?: number; inSeq?: number }): Datagram => ({
  src: from,
  sport: 4569,
  dst: pbxSpec.address,
  dport: 4569,
  payload: encodeFullFrame({ sourceCall: calls.source, destinationCall: calls.destination ?? 0, retransmitted: false, timestampMs: 3, outSeq: calls.outSeq ?? 0, inSeq: calls.inSeq ?? 0, frameType: FRAME_TYPE_IAX, subclass, elements }),
});
const emptyToken: InformationElement = { type: IaxIe.CALLTOKEN, data: new Uint8Array(0) };

describe("the IAX2 registrar (chan_iax2's registration)", () => {
  const lines: SecurityLogLine[] = [];
  const pbx = createIax2Pbx(pbxSpec, 4569, (line) => lines.push(line));
  /** What goes out at once (retransmissions wait seconds), an ACK first if any: the answer is the last. */
  const answers = (datagram: Datagram, atUs: number) =>
    pbx
      .receive(datagram, atUs)
      .filter((reply) => reply.delayUs < 1_000_000)
      .map((reply) => decodeFullFrame(reply.datagram.payload)!);
  const answer = (datagram: Datagram, atUs: number) => answers(datagram, atUs).at(-1)!;
  /** The three REGREQs of a registration: ask for a token, open the call with it, answer the challenge. */
  const register = (from: string, peer: string, secret: string, atUs: number) => {
    const identity = [stringElement(IaxIe.USERNAME, peer), shortElement(IaxIe.REFRESH, 60)];
    const token = answer(frame(from, IaxCommand.REGREQ, [...identity, emptyToken], { source: 7 }), atUs);
    expect(token.subclass).toBe(IaxCommand.CALLTOKEN);
    const challenge = answer(frame(from, IaxCommand.REGREQ, [...identity, stringElement(IaxIe.CALLTOKEN, elementString(token, IaxIe.CALLTOKEN)!)], { source: 7 }), atUs + 1000);
    expect(challenge.subclass).toBe(IaxCommand.REGAUTH);
    expect(elementShort(challenge, IaxIe.AUTHMETHODS)).toBe(2);
    lastAnswers = answers(
      frame(from, IaxCommand.REGREQ, [...identity, iaxMd5Result(elementString(challenge, IaxIe.CHALLENGE)!, secret)], { source: 7, destination: challenge.sourceCall, outSeq: 1, inSeq: 1 }),
      atUs + 2000,
    );
    return lastAnswers.at(-1)!;
  };
  let lastAnswers: ReturnType<typeof answers> = [];

  it("registers a peer whose MD5 answer is right, granting chan_iax2's 60 s", () => {
    lines.length = 0;
    const ack = register("198.18.10.1", "201", "iax-201", 1_000_000);
    // As real chan_iax2 answers: REGACK at once (it acknowledges the request), REGREJ after an ACK (it leaves from the scheduler).
    expect(lastAnswers.map((frame) => frame.subclass)).toEqual([IaxCommand.REGACK]);
    expect(ack.subclass).toBe(IaxCommand.REGACK);
    expect(elementShort(ack, IaxIe.REFRESH)).toBe(60);
    expect(pbx.registrations(2_000_000).map((registration) => registration.account)).toEqual(["201"]);
    expect(lines).toEqual([]);
  });

  it("refuses a wrong secret and an unknown peer alike, after the same challenge, logging what fail2ban's filter reads", () => {
    lines.length = 0;
    const wrong = register("198.18.66.6", "202", "guess", 3_000_000);
    expect(wrong.subclass).toBe(IaxCommand.REGREJ);
    expect(lastAnswers.map((frame) => frame.subclass)).toEqual([IaxCommand.ACK, IaxCommand.REGREJ]);
    expect(elementString(wrong, IaxIe.CAUSE)).toBe("Registration Refused");
    const unknown = register("198.18.66.6", "999", "guess", 4_000_000);
    expect(unknown.subclass).toBe(IaxCommand.REGREJ);
    expect(lines.map((line) => line.text.replace(/\(\w+ != \w+\)/, "(x != y)"))).toEqual([
      "NOTICE[4242] chan_iax2.c: Host 198.18.66.6 failed MD5 authentication for '202' (x != y)",
      "NOTICE[4242] chan_iax2.c: No registration for peer '999' (from 198.18.66.6)",
    ]);
  });

  it("sends REGAUTH again at 2, 12, 22 and 32 s until the client's next frame acknowledges it, and keeps an unanswered call alive with LAGRQ and PING until it dies", () => {
    const identity = [stringElement(IaxIe.USERNAME, "203")];
    const token = elementString(answer(frame("198.18.10.2", IaxCommand.REGREQ, [...identity, emptyToken], { source: 11 }), 6_000_000), IaxIe.CALLTOKEN)!;
    const all = pbx.receive(frame("198.18.10.2", IaxCommand.REGREQ, [...identity, stringElement(IaxIe.CALLTOKEN, token)], { source: 11 }), 6_000_000);
    const replies = all.filter((reply) => decodeFullFrame(reply.datagram.payload)!.subclass === IaxCommand.REGAUTH);
    expect(replies.map((reply) => reply.delayUs)).toEqual([600, 2_000_600, 12_000_600, 22_000_600, 32_000_600]);
    expect(replies.map((reply) => decodeFullFrame(reply.datagram.payload)!.retransmitted)).toEqual([false, true, true, true, true]);
    // While the call waits, it sends LAGRQs every 10 s and a PING at 21 s (sequence numbers after the REGAUTH's), each resent until acknowledged, until it dies at 42 s.
    const keepAlive = all.filter((reply) => !decodeFullFrame(reply.datagram.payload)!.retransmitted && decodeFullFrame(reply.datagram.payload)!.subclass !== IaxCommand.REGAUTH);
    expect(keepAlive.map((reply) => [decodeFullFrame(reply.datagram.payload)!.subclass, decodeFullFrame(reply.datagram.payload)!.outSeq, reply.delayUs])).toEqual([
      [IaxCommand.LAGRQ, 1, 10_000_600],
      [IaxCommand.LAGRQ, 2, 20_000_600],
      [IaxCommand.PING, 3, 21_000_600],
      [IaxCommand.LAGRQ, 4, 30_000_600],
      [IaxCommand.LAGRQ, 5, 40_000_600],
    ]);
    expect(all.every((reply) => reply.delayUs < 42_000_600)).toBe(true);
    expect(replies[1]!.unlessAcknowledged!()).toBe(false);
    const challenge = decodeFullFrame(replies[0]!.datagram.payload)!;
    pbx.receive(frame("198.18.10.2", IaxCommand.REGREQ, [...identity, iaxMd5Result(elementString(challenge, IaxIe.CHALLENGE)!, "iax-203")], { source: 11, destination: challenge.sourceCall, outSeq: 1, inSeq: 1 }), 6_500_000);
    expect(replies[1]!.unlessAcknowledged!()).toBe(true);
    // The answer ended the call (its REGACK went out): nothing more is sent on its timers.
    expect(keepAlive.every((reply) => reply.unlessAcknowledged!())).toBe(true);
  });

  it("answers a REGREQ without a call token REGREJ, and one with a token from another address too", () => {
    const identity = [stringElement(IaxIe.USERNAME, "201")];
    expect(answer(frame("198.18.66.7", IaxCommand.REGREQ, identity, { source: 9 }), 5_000_000).subclass).toBe(IaxCommand.REGREJ);
    const token = elementString(answer(frame("198.18.66.7", IaxCommand.REGREQ, [...identity, emptyToken], { source: 9 }), 5_000_000), IaxIe.CALLTOKEN)!;
    expect(answer(frame("198.18.66.8", IaxCommand.REGREQ, [...identity, stringElement(IaxIe.CALLTOKEN, token)], { source: 9 }), 5_001_000).subclass).toBe(IaxCommand.REGREJ);
    // A token is good for 10 s.
    expect(answer(frame("198.18.66.7", IaxCommand.REGREQ, [...identity, stringElement(IaxIe.CALLTOKEN, token)], { source: 9 }), 16_000_000).subclass).toBe(IaxCommand.REGREJ);
    expect(answer(frame("198.18.66.7", IaxCommand.REGREQ, [...identity, stringElement(IaxIe.CALLTOKEN, token)], { source: 9 }), 8_000_000).subclass).toBe(IaxCommand.REGAUTH);
  });
});

/** The reference post's recent rule, counting IAX2 REGREQs (a full frame of type IAX, subclass 13) with u32 instead of a string. */
const countRegreqs = (hits: number) =>
  [
    "*filter",
    ":INPUT ACCEPT [0:0]",
    ":FORWARD ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    `-A INPUT -p udp --dport 4569 -m u32 --u32 "0>>22&0x3C@8>>31=1&&0>>22&0x3C@16&0xFFFF=0x060D" -m recent --update --seconds 60 --hitcount ${hits} --name IAX -j DROP`,
    `-A INPUT -p udp --dport 4569 -m u32 --u32 "0>>22&0x3C@8>>31=1&&0>>22&0x3C@16&0xFFFF=0x060D" -m recent --set --name IAX`,
    "COMMIT",
    "",
  ].join("\n");

const iax2Scenario = (rulesetText: string) =>
  scenarioOf(
    {
      name: "iax2",
      description: "IAX2 phones and a guesser",
      durationSeconds: 40,
      pbx: { accounts: [{ users: "200-209", password: "iax-{user}-Str0ng" }, { users: ["230"], password: "25" }] },
      hosts: { office: { kind: "nat", public: "198.18.10.1", lan: "192.0.2.0/24" }, attacker: { kind: "addresses", addresses: ["198.18.66.6"] } },
      traffic: [
        { name: "iax-phones", kind: "iax2-phones", host: "office", count: 4, accounts: "200-203", startSeconds: 1, spreadSeconds: 5 },
        { name: "guesser", kind: "iax2-flood", host: "attacker", mode: "guess", peers: "230-230", ratePps: 5, startSeconds: 2, durationSeconds: 30 },
      ],
    },
    { rulesetText },
  );

describe("IAX2 registrations through the model", () => {
  it("phones register with three REGREQs each, and an unguarded guesser finds a weak secret", () => {
    const result = runModel(iax2Scenario(acceptAll));
    const registered = new Set(result.events.filter((event) => event.source === "iax-phones" && event.kind === "registered").map((event) => event.account));
    expect([...registered].sort()).toEqual(["200", "201", "202", "203"]);
    const found = result.events.filter((event) => event.kind === "password-found");
    // The dictionary's five words, then 0..25: "25" is the 31st guess.
    expect(found.map((event) => [event.account, event.detail])).toEqual([["230", 'IAX2 password "25" at guess 31 (REGACK)']]);
    const phoneRequests = result.verdicts.filter((verdict) => verdict.source === "iax-phones" && verdict.direction === "to-pbx" && verdict.dstPort === 4569);
    // Each phone's first registration: REGREQ (token asked), REGREQ (token), REGREQ (MD5), ACK.
    expect(phoneRequests.length).toBeGreaterThanOrEqual(16);
  });

  it("estimates what the guesser cost Asterisk at an IAX2 frame's measured cost, not a SIP request's", () => {
    const scenario = iax2Scenario(acceptAll);
    const result = runModel(scenario);
    const [attack] = attackOutcomes(scenario, computeOutcomes(result));
    expect(attack!.tool).toBe("IAX2 guess");
    expect(attack!.estimatedPbxCpuMs).toBeCloseTo((attack!.requestsReachedPbx * ASTERISK_CPU_US_PER_REQUEST.iax2Frame) / 1000, 6);
    expect(ASTERISK_CPU_US_PER_REQUEST.iax2Frame).toBeLessThan(ASTERISK_CPU_US_PER_REQUEST.challenge);
  });

  it("counting REGREQs per source with u32 stops the guesser before its guess and keeps the office registered", () => {
    const result = runModel(iax2Scenario(countRegreqs(30)));
    expect(result.events.filter((event) => event.kind === "password-found")).toEqual([]);
    const registered = new Set(result.events.filter((event) => event.source === "iax-phones" && event.kind === "registered").map((event) => event.account));
    expect(registered.size).toBe(4);
    const guesser = result.verdicts.filter((verdict) => verdict.source === "guesser" && verdict.direction === "to-pbx");
    const firstDrop = guesser.findIndex((verdict) => verdict.verdict === "dropped");
    // Three REGREQs an attempt (two for the token, one with the guess), one ACK after each REGREJ: the 30th REGREQ is the last let through.
    expect(firstDrop).toBeGreaterThan(30);
    expect(firstDrop).toBeLessThan(45);
    expect(result.verdicts.filter((verdict) => verdict.source === "iax-phones" && verdict.verdict === "dropped")).toEqual([]);
  });
});

describe("an IAX2 capture replayed", () => {
  const replayOf = (policy: Record<string, unknown>) =>
    scenarioOf(
      {
        name: "iax2-replay",
        description: "the synthesised IAX2 guesser replayed",
        durationSeconds: 15,
        pbx: { accounts: [{ users: "200-299", password: "synth-{user}-Secret" }] },
        hosts: { guesser: { kind: "addresses", addresses: ["198.18.66.8"] } },
        traffic: [{ name: "replayed-guesser", kind: "replay", host: "guesser", file: "captures/synth-iax2-guess.pcap" }],
      },
      { policy },
    );
  const run = async (policy: Record<string, unknown>) => {
    const scenario = replayOf(policy);
    return runModel(scenario, {}, await loadReplays(scenario));
  };

  it("sends its REGREQs to the lab PBX's IAX2 port, where a policy counting IAX2 blocks it at the 10th and the default policy never does", async () => {
    const counted = (await run({ iax2: {} })).verdicts.filter((verdict) => verdict.source === "replayed-guesser" && verdict.direction === "to-pbx");
    expect(counted.length).toBe(200);
    expect(counted.every((verdict) => verdict.dstPort === 4569)).toBe(true);
    // Three REGREQs and an ACK a guess: the 10th REGREQ is the 13th packet.
    expect(counted.findIndex((verdict) => verdict.verdict === "dropped")).toBe(12);
    const plain = (await run({})).verdicts.filter((verdict) => verdict.source === "replayed-guesser" && verdict.direction === "to-pbx");
    expect(plain.filter((verdict) => verdict.verdict === "dropped")).toEqual([]);
  });
});

describe("an IAX2 peer walker (enumIAX's shape)", () => {
  it("learns nothing from chan_iax2, which challenges unknown peers as known ones, and leaves no line in Asterisk's log for fail2ban", () => {
    const result = runModel(
      scenarioOf(
        {
          name: "iax2-walk",
          description: "walks peers 198-203 (200-203 exist)",
          durationSeconds: 20,
          pbx: { accounts: [{ users: "200-203", password: "iax-{user}-Str0ng" }] },
          hosts: { walker: { kind: "addresses", addresses: ["198.18.66.9"] } },
          traffic: [{ name: "walker", kind: "iax2-flood", host: "walker", mode: "walk", peers: "198-203", ratePps: 10, startSeconds: 1, durationSeconds: 10 }],
        },
        { rulesetText: acceptAll },
      ),
    );
    const sent = result.verdicts.filter((verdict) => verdict.source === "walker" && verdict.direction === "to-pbx");
    // Each peer: a REGREQ asking for a call token and one opening the call with it; the REGAUTH ends the walker's interest.
    expect(sent).toHaveLength(12);
    expect(result.events.filter((event) => event.kind === "extension-found" || event.kind === "password-found")).toEqual([]);
    expect(result.asteriskLogLines).toBe(0);
  });
});
