import { decodeFullFrame, elementShort, elementString, IaxCommand, IaxIe, shortElement, stringElement, type IaxFullFrame } from "../iax2/iax2-frame.js";
import type { PbxSpec, TrafficSourceSpec } from "../scenario/schema.js";
import type { AgentContext, AgentEndpoint, Datagram, TrafficSource } from "./agent.js";
import type { AgentPlacement } from "./agent-placement.js";
import { iaxMd5Result, Iax2ClientCall, nextCallNumber } from "./iax2-call.js";
import { agentLookup, deskPhones } from "./phones.js";

type Iax2PhonesSpec = Extract<TrafficSourceSpec, { kind: "iax2-phones" }>;

/** attempt_transmit: the first retransmission after twice the ping time (1 s at first), each next ten times later, at most 10 s apart. */
const RETRANSMIT_DELAYS_US = [2_000_000, 10_000_000, 10_000_000, 10_000_000];
/** After the last retransmission's wait (max_retries 4) the registration has timed out. */
const GIVE_UP_AFTER_US = 10_000_000;

/**
 * IAX2 phones or trunks registering the way Asterisk's own `register =>`
 * line does (chan_iax2's iax2_do_register): every 5/6 of the refresh
 * interval, whatever became of the last try, a new call with a REGREQ that
 * asks for a call token, the REGREQ again with the token, the challenge
 * answered with MD5, the REGACK or REGREJ acknowledged. Frames the
 * registrar does not answer are resent at 2 s, then every 10 s, four times.
 */
export function createIax2Phones(spec: Iax2PhonesSpec, pbx: PbxSpec, placement: AgentPlacement): TrafficSource {
  const { agents, credentialsOf } = deskPhones(spec, pbx, placement, "iax");
  const phones = new Map<string, Iax2Phone>();
  const agentAt = agentLookup(agents);
  const target = { address: pbx.address, port: pbx.iax2Port };
  return {
    name: spec.name,
    agents,
    start(context: AgentContext) {
      agents.forEach((endpoint, index) => {
        const { account, password } = credentialsOf(index);
        const phone = new Iax2Phone(endpoint, target, context, account, password, spec.refreshSeconds);
        phones.set(endpoint.agent, phone);
        context.at(Math.round((spec.startSeconds + spec.spreadSeconds * context.random()) * 1_000_000), () => phone.register());
      });
    },
    receive(datagram: Datagram) {
      const agent = agentAt(datagram);
      const frame = decodeFullFrame(datagram.payload);
      if (agent && frame) phones.get(agent)?.receive(frame);
    },
  };
}

class Iax2Phone {
  private call: Iax2ClientCall | null = null;
  private callNumber = 1;
  /** The frame awaiting an answer and how many times it was resent. */
  private pending: { payload: Uint8Array; retries: number } | null = null;
  private generation = 0;

  constructor(
    private readonly endpoint: AgentEndpoint,
    private readonly target: { readonly address: string; readonly port: number },
    private readonly context: AgentContext,
    private readonly peer: string,
    private readonly secret: string,
    private readonly refreshSeconds: number,
  ) {}

  register(): void {
    const generation = ++this.generation;
    this.context.at(this.context.now() + Math.round(((5 * this.refreshSeconds) / 6) * 1_000_000), () => {
      if (generation === this.generation) this.register();
    });
    this.callNumber = nextCallNumber(this.callNumber);
    this.call = new Iax2ClientCall(this.callNumber, this.endpoint, this.endpoint.port, this.target, this.context);
    this.sendReliably(IaxCommand.REGREQ, [...this.identity(), { type: IaxIe.CALLTOKEN, data: new Uint8Array(0) }]);
  }

  receive(frame: IaxFullFrame): void {
    const call = this.call;
    if (!call || frame.destinationCall !== call.localCall || !call.heard(frame)) return;
    const now = this.context.now();
    switch (frame.subclass) {
      case IaxCommand.CALLTOKEN: {
        const token = elementString(frame, IaxIe.CALLTOKEN) ?? "";
        this.sendReliably(IaxCommand.REGREQ, [...this.identity(), stringElement(IaxIe.CALLTOKEN, token)], true);
        return;
      }
      case IaxCommand.REGAUTH:
        this.sendReliably(IaxCommand.REGREQ, [...this.identity(), iaxMd5Result(elementString(frame, IaxIe.CHALLENGE) ?? "", this.secret)]);
        return;
      case IaxCommand.REGACK:
        this.finish(frame);
        this.context.record({ atUs: now, agent: this.endpoint.agent, kind: "registered", account: this.peer, detail: `IAX2 REGACK, refresh ${elementShort(frame, IaxIe.REFRESH) ?? "?"} s` });
        return;
      case IaxCommand.REGREJ:
        this.finish(frame);
        this.context.record({ atUs: now, agent: this.endpoint.agent, kind: "unauthorized", account: this.peer, detail: `IAX2 REGREJ: ${elementString(frame, IaxIe.CAUSE) ?? "no cause"}` });
        return;
      case IaxCommand.ACK:
        // The registrar has our REGREQ; its answer follows.
        this.pending = null;
        return;
    }
  }

  private identity() {
    return [stringElement(IaxIe.USERNAME, this.peer), shortElement(IaxIe.REFRESH, this.refreshSeconds)];
  }

  private finish(frame: IaxFullFrame): void {
    this.pending = null;
    this.call?.ack(frame);
    this.call = null;
  }

  private sendReliably(subclass: number, elements: Parameters<Iax2ClientCall["send"]>[1], restart = false): void {
    const call = this.call!;
    const payload = call.send(subclass, elements, { restart });
    const pending = { payload, retries: 0 };
    this.pending = pending;
    const retry = () => {
      if (this.pending !== pending || this.call !== call) return;
      if (pending.retries >= RETRANSMIT_DELAYS_US.length) {
        this.pending = null;
        this.call = null;
        this.context.record({ atUs: this.context.now(), agent: this.endpoint.agent, kind: "timeout", account: this.peer, detail: "IAX2 REGREQ got no answer after 4 retransmissions" });
        return;
      }
      call.resend(payload);
      pending.retries++;
      this.context.at(this.context.now() + (RETRANSMIT_DELAYS_US[pending.retries] ?? GIVE_UP_AFTER_US), retry);
    };
    this.context.at(this.context.now() + RETRANSMIT_DELAYS_US[0]!, retry);
  }
}
