import type { PbxSpec, TrafficSourceSpec } from "../scenario/schema.js";
import { userSequence } from "../scenario/user-list.js";
import { answerChallenge, formatCredentials, parseChallenge } from "../sip/digest.js";
import { formatRequest, parseSip, type SipMessage } from "../sip/sip-message.js";
import type { AgentContext, AgentEndpoint, Datagram, TrafficSource } from "./agent.js";
import { placeAgent, type AgentPlacement } from "./agent-placement.js";
import { passwordFor } from "./passwords.js";
import { randomInt } from "./random.js";

type SippOfficeSpec = Extract<TrafficSourceSpec, { kind: "sipp-office" }>;

/** SIPp's retransmission of a non-INVITE over UDP (call.cpp): the scenario's retrans="500", doubling to T2 (-T2, 4 s). */
const RETRANS_US = 500_000;
const T2_US = 4_000_000;
/** SIPp gives a call up after this many retransmissions of one message (UDP_MAX_RETRANS_NON_INVITE_TRANSACTION). */
export const SIPP_MAX_NON_INVITE_RETRANS = 9;
/** The first port of the kernel's ephemeral range (ip_local_port_range 32768 60999): where `-t un` sockets come from. */
const EPHEMERAL_FIRST = 32768;
const EPHEMERAL_LAST = 60999;

interface SippCall {
  readonly endpoint: AgentEndpoint;
  readonly number: number;
  readonly account: string;
  readonly password: string;
  readonly callId: string;
  readonly fromTag: string;
  /** The message in flight: its branch, and whether an answer has ended its retransmissions. */
  branch: string;
  answered: boolean;
  cseq: number;
  done: boolean;
}

/**
 * One SIPp process registering an office's accounts, as the lab's
 * `sipp-register.xml` does with an injection file of accounts (the docker
 * engine's `tool: sipp-register` with `accounts`): call i starts i/rate
 * seconds in (`-r`), at most `limit` calls open at once (`-l`), each call
 * one account: REGISTER, the 401, REGISTER with credentials, the 200, then
 * the call ends (no refresh). Each message is retransmitted as SIPp does
 * over UDP (500 ms doubling to T2 = 4 s, the call failed after 9
 * retransmissions of one message: 31.5 s); an answer other than the one the
 * scenario waits for fails the call. `-t u1` (SIPp's default) sends every
 * call from one socket; `-t un` gives each call its own (an ephemeral port).
 */
export function createSippOffice(spec: SippOfficeSpec, pbx: PbxSpec, placement: AgentPlacement): TrafficSource {
  const accounts = userSequence(spec.accounts);
  const count = spec.count ?? accounts.size;
  // One machine runs SIPp: the host's first address, or one LAN address behind an office's NAT.
  const machine = placeAgent(placement, "sipp", 0);
  const address = machine.address;
  // The ports come from the source's seed only when it starts; agents must be known before, so draw them from the spec.
  const ports = callPorts(spec, count);
  const agents: AgentEndpoint[] = Array.from({ length: count }, (_, index) => ({ ...machine, agent: `call-${String(index + 1).padStart(4, "0")}`, port: ports[index]! }));
  const callsByBranch = new Map<string, SippCall>();
  const pending: SippCall[] = [];
  let open = 0;

  const send = (call: SippCall, context: AgentContext, challenge: string | null) => {
    call.cseq++;
    call.branch = `z9hG4bK-${call.number}-${call.cseq}-${randomInt(context.random, 0, 2 ** 31)}`;
    call.answered = false;
    callsByBranch.set(call.branch, call);
    const { endpoint } = call;
    const uri = `sip:${pbx.address}`;
    const headers: Array<[string, string]> = [
      ["Via", `SIP/2.0/UDP ${endpoint.address}:${endpoint.port};branch=${call.branch};rport`],
      ["From", `<sip:${call.account}@${pbx.address}>;tag=${call.fromTag}`],
      ["To", `<sip:${call.account}@${pbx.address}>`],
      ["Call-ID", call.callId],
      ["CSeq", `${call.cseq} REGISTER`],
      ["Contact", `<sip:${call.account}@${endpoint.address}:${endpoint.port}>`],
    ];
    const parsed = challenge ? parseChallenge(challenge) : null;
    if (parsed) headers.push(["Authorization", formatCredentials(answerChallenge(parsed, { username: call.account, password: call.password, method: "REGISTER", uri, cnonce: "", nc: 1 }))]);
    headers.push(["Max-Forwards", "70"], ["Expires", "3600"], ["User-Agent", "SIPp"]);
    const payload = formatRequest("REGISTER", uri, headers);
    const datagram: Datagram = { src: endpoint.address, sport: endpoint.port, dst: pbx.address, dport: pbx.port, payload };
    const branch = call.branch;
    context.send(endpoint.agent, datagram);
    const retransmit = (retransmissions: number, delayUs: number) => {
      context.at(context.now() + delayUs, () => {
        if (call.done || call.branch !== branch || call.answered) return;
        if (retransmissions >= SIPP_MAX_NON_INVITE_RETRANS) {
          end(call, context, { kind: "timeout", detail: `SIPp gave the call up: no answer after ${SIPP_MAX_NON_INVITE_RETRANS} retransmissions` });
          return;
        }
        context.send(endpoint.agent, datagram);
        retransmit(retransmissions + 1, Math.min(delayUs * 2, T2_US));
      });
    };
    retransmit(0, RETRANS_US);
  };

  const end = (call: SippCall, context: AgentContext, outcome: { kind: "registered" | "timeout" | "forbidden" | "unauthorized"; detail: string }) => {
    call.done = true;
    open--;
    context.record({ atUs: context.now(), agent: call.endpoint.agent, kind: outcome.kind, account: call.account, detail: outcome.detail });
    const next = pending.shift();
    if (next) begin(next, context);
  };

  const begin = (call: SippCall, context: AgentContext) => {
    open++;
    send(call, context, null);
  };

  return {
    name: spec.name,
    agents,
    start(context: AgentContext) {
      const startUs = spec.startSeconds * 1_000_000;
      agents.forEach((endpoint, index) => {
        const account = accounts.at(index % accounts.size);
        const call: SippCall = {
          endpoint,
          number: index + 1,
          account,
          password: passwordFor(pbx, account) ?? `unknown-${account}`,
          callId: `${index + 1}-${randomInt(context.random, 1000, 99999)}@${address}`,
          fromTag: `${randomInt(context.random, 1000, 99999)}SIPpTag00${index + 1}`,
          branch: "",
          answered: false,
          cseq: 0,
          done: false,
        };
        // SIPp opens calls at its rate; past its limit of open calls a new one waits for one to end.
        context.at(Math.round(startUs + (index * 1_000_000) / spec.ratePps), () => {
          if (spec.limit > 0 && open >= spec.limit) pending.push(call);
          else begin(call, context);
        });
      });
    },
    receive(datagram: Datagram, context: AgentContext) {
      const response = parseSip(datagram.payload);
      if (!response || response.kind !== "response" || response.status < 200) return;
      const call = callsByBranch.get(response.viaBranch);
      if (!call || call.done || call.answered) return;
      call.answered = true;
      callsByBranch.delete(response.viaBranch);
      answer(call, response, context);
    },
  };

  /** The scenario's next step: the 401 answered once with credentials, the 200 ends the call; anything else fails it (SIPp's unexpected message). */
  function answer(call: SippCall, response: SipMessage, context: AgentContext) {
    if (response.status === 401 && call.cseq === 1) {
      send(call, context, response.header("www-authenticate") ?? "");
      return;
    }
    if (response.status === 200 && call.cseq === 2) {
      end(call, context, { kind: "registered", detail: "SIPp's call ended with 200 OK" });
      return;
    }
    end(call, context, { kind: response.status === 401 ? "unauthorized" : "forbidden", detail: `SIPp's call failed on an unexpected "${response.status} ${response.reason}"` });
  }
}

/** u1: every call on the one port SIPp binds (-p); un: a port of the kernel's ephemeral range per call, distinct. */
function callPorts(spec: SippOfficeSpec, count: number): number[] {
  if (spec.transport === "u1") return Array.from({ length: count }, () => spec.localPort);
  // Deterministic per source name: the agents (and their ports) exist before the run's seed reaches the source.
  let state = [...spec.name].reduce((hash, char) => (hash * 31 + char.charCodeAt(0)) >>> 0, 2166136261);
  const taken = new Set<number>();
  return Array.from({ length: count }, () => {
    let port: number;
    do {
      state = (state * 1103515245 + 12345) >>> 0;
      port = EPHEMERAL_FIRST + (state % (EPHEMERAL_LAST - EPHEMERAL_FIRST + 1));
    } while (taken.has(port));
    taken.add(port);
    return port;
  });
}
