import { decodeFullFrame, elementString, IaxCommand, IaxIe, shortElement, stringElement, type IaxFullFrame, type InformationElement } from "../iax2/iax2-frame.js";
import type { PbxSpec, TrafficSourceSpec } from "../scenario/schema.js";
import { userSequence } from "../scenario/user-list.js";
import type { AgentContext, AgentEndpoint, Datagram, TrafficSource } from "./agent.js";
import type { AgentPlacement } from "./agent-placement.js";
import { publicAddressesOf } from "./host-addresses.js";
import { iaxMd5Result, Iax2ClientCall, nextCallNumber } from "./iax2-call.js";
import { passwordGuess } from "./register-flood.js";

type Iax2FloodSpec = Extract<TrafficSourceSpec, { kind: "iax2-flood" }>;

/** A call token is good for 10 s from when the registrar made it (chan_iax2's calltokendelay); a reusing bot asks again after 9. */
const TOKEN_REUSE_US = 9_000_000;
const REFRESH_SECONDS = 60;

interface Attempt {
  readonly call: Iax2ClientCall;
  readonly peer: string;
  guess?: { password: string; number: number };
}

interface Attacker {
  readonly endpoint: AgentEndpoint;
  readonly index: number;
  callNumber: number;
  readonly attempts: Map<number, Attempt>;
  token: { value: string; atUs: number } | null;
  started: number;
  guesses: number;
  lastStartUs: number;
  lastAnswerUs: number;
  /** Answers heard so far: a silence watch that finds the count unchanged gives up. */
  answers: number;
  state: "running" | "gave-up" | "cracked";
}

/**
 * IAX2 registration brute force from every address of its host, shaped like
 * the scripts that do it: each attempt is a call of its own (REGREQ asking
 * for a call token, REGREQ with it, and in `guess` mode the challenge
 * answered with MD5 of the next password), at most `ratePps` attempts a
 * second per address, none retransmitted. `walk` sends bare REGREQs for
 * each peer name, as enumIAX does: against a chan_iax2 that challenges
 * unknown peers as known ones it learns nothing, but every REGREQ reaches
 * the registrar. Like sipvicious, it waits for answers and stops after
 * `giveUpSeconds` without any (0: a bot that starts an attempt on every tick
 * whatever came back).
 */
export function createIax2Flood(spec: Iax2FloodSpec, pbx: PbxSpec, placement: AgentPlacement): TrafficSource {
  const all = publicAddressesOf(placement.host);
  const addresses = spec.addressCount === 0 ? all : all.slice(0, spec.addressCount);
  const peers = userSequence(spec.peers);
  const agents: AgentEndpoint[] = addresses.map((address) => ({ agent: address, address, port: spec.sourcePort }));
  const attackers = new Map<string, Attacker>();
  const intervalUs = 1_000_000 / spec.ratePps;
  const giveUpUs = spec.giveUpSeconds * 1_000_000;
  const endUs = (spec.startSeconds + spec.durationSeconds) * 1_000_000;
  const target = { address: pbx.address, port: pbx.iax2Port };

  const identity = (peer: string): InformationElement[] => [stringElement(IaxIe.USERNAME, peer), shortElement(IaxIe.REFRESH, REFRESH_SECONDS)];

  /** Gives up when nothing at all is heard for giveUpSeconds after the last answer (or the start). */
  const watchSilence = (attacker: Attacker, context: AgentContext) => {
    if (giveUpUs === 0) return;
    const heard = attacker.answers;
    context.at(Math.round(attacker.lastAnswerUs + giveUpUs), () => {
      if (attacker.state !== "running" || attacker.answers !== heard) return;
      attacker.state = "gave-up";
      context.record({ atUs: context.now(), agent: attacker.endpoint.agent, kind: "gave-up", detail: `IAX2 ${spec.mode} from ${attacker.endpoint.address} stopped after ${attacker.started} attempts: no answer for ${spec.giveUpSeconds} s` });
    });
  };

  const startAttempt = (attacker: Attacker, context: AgentContext) => {
    const now = context.now();
    if (now >= endUs || attacker.state !== "running") return;
    if (spec.mode === "walk" && giveUpUs > 0 && attacker.started >= peers.size) return;
    const peer = spec.mode === "walk" ? peers.at(attacker.started % peers.size) : peers.at(0);
    attacker.callNumber = nextCallNumber(attacker.callNumber);
    const call = new Iax2ClientCall(attacker.callNumber, attacker.endpoint, spec.sourcePort, target, context);
    attacker.attempts.set(call.localCall, { call, peer });
    attacker.started++;
    attacker.lastStartUs = now;
    const token = spec.reuseCallToken && attacker.token && now - attacker.token.atUs < TOKEN_REUSE_US ? attacker.token.value : "";
    call.send(IaxCommand.REGREQ, [...identity(peer), token ? stringElement(IaxIe.CALLTOKEN, token) : { type: IaxIe.CALLTOKEN, data: new Uint8Array(0) }]);
    // A bot does not wait: its next attempt comes on the next tick.
    if (giveUpUs === 0) context.at(Math.round(now + intervalUs), () => startAttempt(attacker, context));
  };

  /** The next attempt after an answer ends one, no sooner than the pace allows. */
  const next = (attacker: Attacker, context: AgentContext) => {
    if (giveUpUs === 0) return;
    context.at(Math.max(context.now(), Math.round(attacker.lastStartUs + intervalUs)), () => startAttempt(attacker, context));
  };

  const receive = (attacker: Attacker, frame: IaxFullFrame, context: AgentContext) => {
    const attempt = attacker.attempts.get(frame.destinationCall);
    if (!attempt || attacker.state === "gave-up" || !attempt.call.heard(frame)) return;
    const now = context.now();
    attacker.lastAnswerUs = now;
    attacker.answers++;
    watchSilence(attacker, context);
    switch (frame.subclass) {
      case IaxCommand.CALLTOKEN: {
        const token = elementString(frame, IaxIe.CALLTOKEN) ?? "";
        attacker.token = { value: token, atUs: now };
        attempt.call.send(IaxCommand.REGREQ, [...identity(attempt.peer), stringElement(IaxIe.CALLTOKEN, token)], { restart: true });
        return;
      }
      case IaxCommand.REGAUTH: {
        if (spec.mode === "walk") {
          // The challenge tells a known peer from an unknown one only on registrars that refuse unknown peers outright.
          attacker.attempts.delete(frame.destinationCall);
          next(attacker, context);
          return;
        }
        const password = passwordGuess(spec.passwords, attacker.index + addresses.length * attacker.guesses);
        attacker.guesses++;
        attempt.guess = { password, number: attacker.guesses };
        attempt.call.send(IaxCommand.REGREQ, [...identity(attempt.peer), iaxMd5Result(elementString(frame, IaxIe.CHALLENGE) ?? "", password)]);
        return;
      }
      case IaxCommand.REGACK:
        attempt.call.ack(frame);
        attacker.attempts.delete(frame.destinationCall);
        if (attempt.guess && attacker.state === "running") {
          attacker.state = "cracked";
          context.record({ atUs: now, agent: attacker.endpoint.agent, kind: "password-found", account: attempt.peer, detail: `IAX2 password "${attempt.guess.password}" at guess ${attempt.guess.number} (REGACK)` });
        }
        return;
      case IaxCommand.REGREJ:
        attempt.call.ack(frame);
        attacker.attempts.delete(frame.destinationCall);
        next(attacker, context);
        return;
    }
  };

  return {
    name: spec.name,
    agents,
    start(context: AgentContext) {
      addresses.forEach((address, index) => {
        const attacker: Attacker = {
          endpoint: agents[index]!,
          index,
          callNumber: 1,
          attempts: new Map(),
          token: null,
          started: 0,
          guesses: 0,
          lastStartUs: 0,
          lastAnswerUs: spec.startSeconds * 1_000_000,
          answers: 0,
          state: "running",
        };
        attackers.set(address, attacker);
        context.at(Math.round(spec.startSeconds * 1_000_000), () => {
          startAttempt(attacker, context);
          watchSilence(attacker, context);
        });
      });
    },
    receive(datagram: Datagram, context: AgentContext) {
      const attacker = attackers.get(datagram.dst);
      const frame = decodeFullFrame(datagram.payload);
      if (attacker && frame && datagram.dport === spec.sourcePort) receive(attacker, frame, context);
    },
  };
}
