import type { PbxSpec, TrafficSourceSpec } from "../scenario/schema.js";
import { userSequence } from "../scenario/user-list.js";
import { answerChallenge, formatCredentials, parseChallenge, type DigestChallenge } from "../sip/digest.js";
import { formatHead, formatRequest, parseSip, type SipMessage } from "../sip/sip-message.js";
import type { AgentContext, AgentEndpoint, Datagram, TrafficSource } from "./agent.js";
import type { AgentPlacement } from "./agent-placement.js";
import { pbxAddressFor, publicAddressesOf } from "./host-addresses.js";
import { sipHost } from "../sip/sip-host.js";
import { randomInt } from "./random.js";

type FloodSpec = Extract<TrafficSourceSpec, { kind: "register-flood" }>;

interface Attacker {
  /** Where its next request leaves from: its own address, or with rotateAddresses the host's next in turn. */
  endpoint: AgentEndpoint;
  /** Its place among the host's addresses: address i of N takes guesses i, i+N, ... */
  readonly index: number;
  /** Requests sent so far: indexes the extension or password walk. */
  sent: number;
  /**
   * Challenges not yet answered. svcrack.py answers each 401 once with its
   * next guess (it pops them) and, with none pending, sends a bare REGISTER
   * to fetch one; a bot that does not wait (giveUpSeconds 0) answers the
   * last challenge it got again and again.
   */
  readonly challenges: DigestChallenge[];
  /** Guesses sent so far: the first request carries none (it fetches the challenge). */
  guesses: number;
  /** Each guess by the CSeq of its request, so a 200 names the guess it answers. */
  readonly guessByCseq: Map<number, { password: string; number: number }>;
  /** INVITE: each request's Via branch and source port by CSeq, for the ACK of its final answer. */
  readonly inviteByCseq: Map<number, { branch: string; sourcePort: number; requestUri: string }>;
  cracked: boolean;
  /** TCP with requestsPerWrite: requests made but not yet written. */
  readonly unwritten: Uint8Array[];
  /** svwar: the status line a random extension got (its first request), against which a walked one's answer tells it exists. */
  baseline: string | null;
  /** sipvicious's states: its first request waits for an answer; then it floods until it hears nothing for giveUpSeconds. */
  state: "idle" | "probing" | "flooding" | "gave-up";
  lastAnswerUs: number;
  /** The flood's pace: its nth request leaves at floodFromUs + n intervals. */
  floodFromUs: number;
  floodCount: number;
  /** The flood's next send, made once: a closure per send lived until the next, half a second later, and died old. */
  floodStep: (() => void) | null;
  readonly callId: string;
  readonly tag: string;
}

/**
 * sipvicious at a fixed pace from every address of its host, as the tools
 * send: `svwar` walks extensions with bare REGISTERs, `svcrack` guesses one
 * extension's password, answering each 401 with the next guess. Neither
 * retransmits, and sipvicious binds one source port (5060 when free) for the
 * whole run. As the tools do (svcrack.py, svwar.py of sipvicious 0.3), each
 * first sends one request and waits for its answer (svwar's for a random
 * extension, to learn what an unknown one gets), giving up if none comes
 * within its socket timeout; then it sends at its pace whatever the answers,
 * until --maximumtime (giveUpSeconds) passes without any answer at all;
 * svwar stops too once it has walked its range. giveUpSeconds 0 is a bot
 * that neither waits nor stops, and walks its range again.
 */
export function createRegisterFlood(spec: FloodSpec, pbx: PbxSpec, placement: AgentPlacement, walk: PasswordWalk = dictionaryWalk(spec.passwords)): TrafficSource {
  const all = publicAddressesOf(placement.host);
  const addresses = spec.addressCount === 0 ? all : all.slice(0, spec.addressCount);
  const extensions = userSequence(spec.extensions);
  const port = spec.sourcePort === "random" ? 5060 : spec.sourcePort;
  const via = spec.transport.toUpperCase();
  const contactTransport = spec.transport === "udp" ? "" : `;transport=${spec.transport}`;
  // Over TLS the flood connects to PJSIP's TLS transport.
  const pbxPort = spec.transport === "tls" ? pbx.tlsPort : pbx.port;
  // Rotating, one tool sends from every address: one agent, however many addresses it takes.
  const agents: AgentEndpoint[] = addresses.map((address) => ({ agent: spec.rotateAddresses ? `${placement.hostName}:rotating` : address, address, port }));
  const attackers = new Map<string, Attacker>();
  const intervalUs = 1_000_000 / spec.ratePps;
  const giveUpUs = spec.giveUpSeconds * 1_000_000;
  // The socket timeout each tool's first request waits for: svwar's socktimeout 3, svcrack's settimeout(10).
  const probeTimeoutUs = (spec.mode === "svwar" ? 3 : 10) * 1_000_000;
  const endUs = (spec.startSeconds + spec.durationSeconds) * 1_000_000;

  /** The walk's next request, or (svwar) the first request's random extension, which is not in the walk. */
  const send = (attacker: Attacker, context: AgentContext, probe = false) => {
    if (spec.rotateAddresses) attacker.endpoint = agents[attacker.sent % agents.length]!;
    const { address } = attacker.endpoint;
    const sourcePort = spec.sourcePort === "random" ? randomInt(context.random, 1024, 65535) : port;
    const walked = attacker.sent - (giveUpUs > 0 ? 1 : 0);
    const extension = spec.mode === "svwar" ? (probe ? String(randomInt(context.random, 0, 2 ** 32 - 1)) : extensions.at(walked)) : extensions.at(0);
    // A guesser's call goes to the number it wants; a walker's to the extension it probes.
    const callee = spec.method === "INVITE" && spec.mode === "svcrack" ? spec.callTo : extension;
    const pbxHost = sipHost(pbxAddressFor(pbx, address));
    const uri = `sip:${callee}@${pbxHost}`;
    const branch = `z9hG4bK-${randomInt(context.random, 0, 2 ** 31)}`;
    if (spec.method === "INVITE") attacker.inviteByCseq.set(attacker.sent + 1, { branch, sourcePort, requestUri: uri });
    const host = sipHost(address);
    // The head as one string, in the order sipvicious writes it: a flood makes one a send, and a list of pairs per send, joined afterwards, was a cost of its own.
    let head =
      `${spec.method} ${uri} SIP/2.0\r\n` +
      `Via: SIP/2.0/${via} ${host}:${sourcePort};branch=${branch};rport\r\n` +
      "Max-Forwards: 70\r\n" +
      `To: "${callee}" <sip:${callee}@${pbxHost}>\r\n` +
      `From: "${extension}" <sip:${extension}@${pbxHost}>;tag=${attacker.tag}\r\n` +
      `User-Agent: ${spec.userAgent}\r\n` +
      `Call-ID: ${attacker.callId}\r\n` +
      `Contact: sip:${extension}@${host}:${sourcePort}${contactTransport}\r\n` +
      `CSeq: ${attacker.sent + 1} ${spec.method}\r\n` +
      "Accept: application/sdp\r\n";
    const challenge = spec.mode !== "svcrack" ? undefined : giveUpUs > 0 ? attacker.challenges.pop() : attacker.challenges.at(-1);
    // Address i of N takes guesses i, i+N, i+2N...: the dictionary's first word is the first guess.
    const guess = challenge ? walk(attacker.index + (spec.rotateAddresses ? 1 : addresses.length) * attacker.guesses) : undefined;
    if (challenge && guess === undefined) {
      // svcrack.py's password generator ran out: it sends nothing more.
      giveUp(attacker, context, `it tried every password of its range (${attacker.guesses} guesses)`);
      return;
    }
    if (challenge && guess !== undefined) {
      attacker.guesses++;
      attacker.guessByCseq.set(attacker.sent + 1, { password: guess, number: attacker.guesses });
      head += `Authorization: ${formatCredentials(answerChallenge(challenge, { username: extension, password: guess, method: spec.method, uri, cnonce: "", nc: 1 }))}\r\n`;
    }
    attacker.sent++;
    write(attacker, context, sourcePort, formatHead(head));
  };

  /** Over UDP a datagram; over TCP a write to the connection, held until requestsPerWrite requests are made, cut inside the method when asked. */
  const write = (attacker: Attacker, context: AgentContext, sourcePort: number, request: Uint8Array) => {
    const { address } = attacker.endpoint;
    if (spec.transport === "udp") {
      context.send(attacker.endpoint.agent, { src: address, sport: sourcePort, dst: pbxAddressFor(pbx, address), dport: pbxPort, payload: request });
      return;
    }
    attacker.unwritten.push(request);
    // The probe is written at once: the tool waits for its answer.
    if (attacker.unwritten.length < spec.requestsPerWrite && attacker.state !== "probing") return;
    const requests = attacker.unwritten.splice(0);
    const payload = Buffer.concat(requests);
    // Each request cut in two inside its method: "REGI" | "STER sip:...".
    const segments = spec.splitMethod ? requests.flatMap((one) => [Math.ceil(spec.method.length / 2), one.length - Math.ceil(spec.method.length / 2)]) : undefined;
    context.send(attacker.endpoint.agent, { src: address, sport: sourcePort, dst: pbxAddressFor(pbx, address), dport: pbxPort, payload, transport: spec.transport, ...(segments ? { segments } : {}) });
  };

  const giveUp = (attacker: Attacker, context: AgentContext, why: string) => {
    attacker.state = "gave-up";
    context.record({ atUs: context.now(), agent: attacker.endpoint.agent, kind: "gave-up", detail: `${spec.mode} from ${attacker.endpoint.address} stopped after ${attacker.sent} request${attacker.sent === 1 ? "" : "s"}: ${why}` });
  };
  /** Sends at the tool's pace from `fromUs`, until its time is up, it cracks the password or it hears nothing for too long. */
  const flood = (attacker: Attacker, context: AgentContext, fromUs: number, count: number) => {
    attacker.floodFromUs = fromUs;
    attacker.floodCount = count;
    attacker.floodStep ??= () => {
      if (attacker.cracked || attacker.state === "gave-up") return;
      if (giveUpUs > 0 && context.now() - attacker.lastAnswerUs > giveUpUs) {
        giveUp(attacker, context, `no answer for ${spec.giveUpSeconds} s`);
        return;
      }
      // svwar's walk ends with its range (its generator runs out); a bot (giveUpSeconds 0) walks it again.
      if (spec.mode === "svwar" && giveUpUs > 0 && attacker.sent - 1 >= extensions.size) return;
      send(attacker, context);
      attacker.floodCount++;
      floodNext(attacker, context);
    };
    floodNext(attacker, context);
  };
  const floodNext = (attacker: Attacker, context: AgentContext) => {
    const atUs = Math.round(attacker.floodFromUs + attacker.floodCount * intervalUs);
    if (atUs < endUs) context.at(atUs, attacker.floodStep!);
  };

  /**
   * svwar's verdict on an answer (svwar.py's getResponse): an extension whose
   * answer's status line differs from the one a random extension got
   * exists. Asterisk's PJSIP answers an unknown user as a known one (its
   * artificial endpoint), so against it svwar confirms nothing.
   */
  const confirmExtension = (attacker: Attacker, response: { status: number; reason: string; cseq: number }, context: AgentContext) => {
    const line = `${response.status} ${response.reason}`;
    const cseq = response.cseq;
    // CSeq n carried the walk's request n-1 after the probe (n without one); the probe sets the baseline.
    const walked = cseq - 1 - (giveUpUs > 0 ? 1 : 0);
    if (attacker.baseline === null || walked < 0) {
      attacker.baseline ??= line;
      if (walked < 0) return;
    }
    if (line === attacker.baseline && spec.onAnswerLikeRandom === "stop" && giveUpUs > 0 && !SVWAR_NOT_FOUND.has(response.status)) {
      // svwar.py: an answer like the random extension's that is none of its "not there" codes is "an unknown response", and it stops.
      giveUp(attacker, context, `its answer for ${extensions.at(walked)} was a random extension's ("${line}"), which svwar calls an unknown response`);
      return;
    }
    if (line === attacker.baseline || !Number.isInteger(walked)) return;
    const extension = extensions.at(walked);
    context.record({ atUs: context.now(), agent: attacker.endpoint.agent, kind: "extension-found", account: extension, detail: `"${line}" where a random extension got "${attacker.baseline}"` });
  };

  /** RFC 3261 17.1.1.3: a final answer to an INVITE is ACKed in its transaction (same branch, the answer's To tag), or the PBX repeats it. */
  const acknowledge = (attacker: Attacker, response: SipMessage, cseq: number, context: AgentContext) => {
    const invite = attacker.inviteByCseq.get(cseq);
    if (!invite) return;
    attacker.inviteByCseq.delete(cseq);
    const { address } = attacker.endpoint;
    const headers: Array<[string, string]> = [
      ["Via", `SIP/2.0/${via} ${sipHost(address)}:${invite.sourcePort};branch=${invite.branch};rport`],
      ["Max-Forwards", "70"],
      ["To", response.header("to") ?? ""],
      ["From", response.header("from") ?? ""],
      ["Call-ID", response.callId],
      ["CSeq", `${cseq} ACK`],
    ];
    const ack = formatRequest("ACK", invite.requestUri, headers);
    context.send(attacker.endpoint.agent, { src: address, sport: invite.sourcePort, dst: pbxAddressFor(pbx, address), dport: pbxPort, payload: ack, ...(spec.transport === "udp" ? {} : { transport: spec.transport }) });
  };

  return {
    name: spec.name,
    agents,
    start(context: AgentContext) {
      const startUs = spec.startSeconds * 1_000_000;
      // Rotating, the host's addresses are one tool's: it starts from the first, and answers to any of them reach it.
      (spec.rotateAddresses ? agents.slice(0, 1) : agents).forEach((endpoint, index) => {
        const attacker: Attacker = {
          endpoint,
          index,
          sent: 0,
          challenges: [],
          guesses: 0,
          guessByCseq: new Map(),
          inviteByCseq: new Map(),
          cracked: false,
          unwritten: [],
          baseline: null,
          state: "idle",
          lastAnswerUs: 0,
          floodFromUs: 0,
          floodCount: 0,
          floodStep: null,
          callId: String(randomInt(context.random, 1e8, 2 ** 31)),
          tag: String(randomInt(context.random, 1e8, 2 ** 31)),
        };
        for (const address of spec.rotateAddresses ? addresses : [endpoint.address]) attackers.set(address, attacker);
        // Bots do not start in step: each gets its own phase within the first interval.
        const phaseUs = addresses.length > 1 && !spec.rotateAddresses ? context.random() * intervalUs : 0;
        if (giveUpUs === 0) {
          attacker.state = "flooding";
          flood(attacker, context, startUs + phaseUs, 0);
          return;
        }
        const probeUs = Math.round(startUs + phaseUs);
        if (probeUs >= endUs) return;
        context.at(probeUs, () => {
          attacker.state = "probing";
          send(attacker, context, true);
          context.at(probeUs + probeTimeoutUs, () => {
            if (attacker.state === "probing") giveUp(attacker, context, `no answer to its first request within ${probeTimeoutUs / 1_000_000} s`);
          });
        });
      });
    },
    receive(datagram: Datagram, context: AgentContext) {
      const attacker = attackers.get(datagram.dst);
      const response = attacker ? parseSip(datagram.payload) : null;
      if (!attacker || !response || response.kind !== "response") return;
      attacker.lastAnswerUs = context.now();
      const cseq = response.cseq;
      if (spec.method === "INVITE") {
        // A provisional answer (100 Trying) says the call is under way: the tools wait for the final one.
        if (response.status < 200) return;
        acknowledge(attacker, response, cseq, context);
      }
      if (attacker.state === "probing") {
        // The answer to its first request: the flood starts at its pace from here.
        attacker.state = "flooding";
        flood(attacker, context, context.now(), 1);
      }
      if (spec.mode === "svwar") confirmExtension(attacker, response, context);
      // Only svcrack answers challenges: svwar's would pile up, one for every request answered.
      if (response.status === 401 && spec.mode === "svcrack") {
        const challenge = parseChallenge(response.header("www-authenticate") ?? "");
        if (challenge && giveUpUs > 0) attacker.challenges.push(challenge);
        else if (challenge) attacker.challenges[0] = challenge;
      } else if (spec.method === "INVITE" && spec.mode === "svcrack" && response.status !== 407 && response.status !== 403 && !attacker.cracked && attacker.guessByCseq.has(cseq)) {
        // The PBX took the credentials: whatever the dialplan then answered (404 for a number it has no route to), the call reached it.
        attacker.cracked = true;
        const guess = attacker.guessByCseq.get(cseq)!;
        const detail = `"${response.status} ${response.reason}" to its call to ${spec.callTo} as ${response.fromUser}`;
        context.record({ atUs: context.now(), agent: attacker.endpoint.agent, kind: "password-found", account: response.fromUser, detail: `password "${guess.password}", its guess ${guess.number} from ${attacker.endpoint.address}` });
        context.record({ atUs: context.now(), agent: attacker.endpoint.agent, kind: "call-reached", account: response.fromUser, detail });
      } else if (response.status === 200 && !attacker.cracked) {
        attacker.cracked = true;
        context.record({ atUs: context.now(), agent: attacker.endpoint.agent, kind: "registered", account: response.fromUser, detail: `${spec.mode} got 200 OK` });
        const guess = attacker.guessByCseq.get(cseq);
        if (guess) context.record({ atUs: context.now(), agent: attacker.endpoint.agent, kind: "password-found", account: response.fromUser, detail: `password "${guess.password}", its guess ${guess.number} from ${attacker.endpoint.address}` });
      }
    },
  };
}

/** The answers svwar.py takes to mean "no such extension" (or nothing yet) when a random extension gets them too: 404, 481, 503, 100, 180, 200, 603. */
const SVWAR_NOT_FOUND = new Set([404, 481, 503, 100, 180, 200, 603]);

/** svcrack's order: the dictionary from its first word, then numbers from 0. */
export function passwordGuess(dictionary: readonly string[], index: number): string {
  return index < dictionary.length ? dictionary[index]! : String(index - dictionary.length);
}

/** A guesser's passwords by guess number from 0; undefined once it has none left. */
export type PasswordWalk = (index: number) => string | undefined;

/** The scenario's dictionary, then numbers from 0, without end (a bot). */
export function dictionaryWalk(dictionary: readonly string[]): PasswordWalk {
  return (index) => passwordGuess(dictionary, index);
}

/** svcrack -r FROM-TO: the numbers of the range in order, then nothing (its generator stops). */
export function rangeWalk(from: number, to: number): PasswordWalk {
  return (index) => (from + index <= to ? String(from + index) : undefined);
}
