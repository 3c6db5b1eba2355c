import type { PbxSpec, TrafficSourceSpec } from "../scenario/schema.js";
import { userSequence } from "../scenario/user-list.js";
import { answerChallenge, formatCredentials, parseChallenge, type DigestChallenge } from "../sip/digest.js";
import { formatRequest, parseSip } from "../sip/sip-message.js";
import type { AgentContext, AgentEndpoint, Datagram, TrafficSource } from "./agent.js";
import type { AgentPlacement } from "./agent-placement.js";
import { publicAddressesOf } from "./host-addresses.js";
import { randomInt } from "./random.js";

type FloodSpec = Extract<TrafficSourceSpec, { kind: "register-flood" }>;

interface Attacker {
  readonly endpoint: AgentEndpoint;
  /** Requests sent so far: indexes the extension or password walk. */
  sent: number;
  /** svcrack answers the last challenge it got with its next guess. */
  challenge: DigestChallenge | null;
  /** Guesses sent so far: the first request carries none (it fetches the challenge). */
  guesses: number;
  /** Each guess by the CSeq of its request, so a 200 names the guess it answers. */
  readonly guessByCseq: Map<number, { password: string; number: number }>;
  cracked: boolean;
  readonly callId: string;
  readonly tag: string;
}

/**
 * sipvicious at a fixed pace from every address of its host, as the tools
 * send: `svwar` walks extensions with bare REGISTERs, `svcrack` guesses one
 * extension's password, answering each 401 with the next guess. Neither
 * retransmits; both pace their sends regardless of answers, and sipvicious
 * binds one source port (5060 when free) for the whole run.
 */
export function createRegisterFlood(spec: FloodSpec, pbx: PbxSpec, placement: AgentPlacement): TrafficSource {
  const all = publicAddressesOf(placement.host);
  const addresses = spec.addressCount === 0 ? all : all.slice(0, spec.addressCount);
  const extensions = userSequence(spec.extensions);
  const port = spec.sourcePort === "random" ? 5060 : spec.sourcePort;
  const agents: AgentEndpoint[] = addresses.map((address) => ({ agent: address, address, port }));
  const attackers = new Map<string, Attacker>();
  const intervalUs = 1_000_000 / spec.ratePps;

  const send = (attacker: Attacker, context: AgentContext, index: number) => {
    const { address } = attacker.endpoint;
    const sourcePort = spec.sourcePort === "random" ? randomInt(context.random, 1024, 65535) : port;
    const extension = spec.mode === "svwar" ? extensions.at(attacker.sent) : extensions.at(0);
    const uri = `sip:${extension}@${pbx.address}`;
    const headers: Array<[string, string]> = [
      ["Via", `SIP/2.0/UDP ${address}:${sourcePort};branch=z9hG4bK-${randomInt(context.random, 0, 2 ** 31)};rport`],
      ["Max-Forwards", "70"],
      ["To", `"${extension}" <sip:${extension}@${pbx.address}>`],
      ["From", `"${extension}" <sip:${extension}@${pbx.address}>;tag=${attacker.tag}`],
      ["User-Agent", spec.userAgent],
      ["Call-ID", attacker.callId],
      ["Contact", `sip:${extension}@${address}:${sourcePort}`],
      ["CSeq", `${attacker.sent + 1} REGISTER`],
      ["Accept", "application/sdp"],
    ];
    if (spec.mode === "svcrack" && attacker.challenge) {
      // Address i of N takes guesses i, i+N, i+2N...: the dictionary's first word is the first guess.
      const guess = passwordGuess(spec.passwords, index + addresses.length * attacker.guesses);
      attacker.guesses++;
      attacker.guessByCseq.set(attacker.sent + 1, { password: guess, number: attacker.guesses });
      headers.push(["Authorization", formatCredentials(answerChallenge(attacker.challenge, { username: extension, password: guess, method: "REGISTER", uri, cnonce: "", nc: 1 }))]);
    }
    attacker.sent++;
    context.send(address, { src: address, sport: sourcePort, dst: pbx.address, dport: pbx.port, payload: formatRequest("REGISTER", uri, headers) });
  };

  return {
    name: spec.name,
    agents,
    start(context: AgentContext) {
      const startUs = spec.startSeconds * 1_000_000;
      const endUs = startUs + spec.durationSeconds * 1_000_000;
      agents.forEach((endpoint, index) => {
        const attacker: Attacker = { endpoint, sent: 0, challenge: null, guesses: 0, guessByCseq: new Map(), cracked: false, callId: String(randomInt(context.random, 1e8, 2 ** 31)), tag: String(randomInt(context.random, 1e8, 2 ** 31)) };
        attackers.set(endpoint.address, attacker);
        // Bots do not start in step: each gets its own phase within the first interval.
        const phaseUs = addresses.length > 1 ? context.random() * intervalUs : 0;
        const tick = (count: number) => {
          const atUs = Math.round(startUs + phaseUs + count * intervalUs);
          if (atUs >= endUs) return;
          context.at(atUs, () => {
            if (attacker.cracked) return;
            send(attacker, context, index);
            tick(count + 1);
          });
        };
        tick(0);
      });
    },
    receive(datagram: Datagram, context: AgentContext) {
      const attacker = attackers.get(datagram.dst);
      const response = attacker ? parseSip(datagram.payload) : null;
      if (!attacker || !response || response.kind !== "response") return;
      if (response.status === 401) attacker.challenge = parseChallenge(response.header("www-authenticate") ?? "");
      else if (response.status === 200 && !attacker.cracked) {
        attacker.cracked = true;
        context.record({ atUs: context.now(), agent: attacker.endpoint.agent, kind: "registered", account: response.fromUser, detail: `${spec.mode} got 200 OK` });
        const cseq = Number(/^\s*(\d+)/.exec(response.header("cseq") ?? "")?.[1]);
        const guess = attacker.guessByCseq.get(cseq);
        if (guess) context.record({ atUs: context.now(), agent: attacker.endpoint.agent, kind: "password-found", account: response.fromUser, detail: `password "${guess.password}", its guess ${guess.number} from ${attacker.endpoint.address}` });
      }
    },
  };
}

/** svcrack's order: the dictionary, then numbers counting up. */
function passwordGuess(dictionary: readonly string[], index: number): string {
  return index < dictionary.length ? dictionary[index]! : String(index - dictionary.length);
}
