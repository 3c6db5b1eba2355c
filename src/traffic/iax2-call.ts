import { createHash } from "node:crypto";
import { FRAME_TYPE_IAX, IaxCommand, IaxIe, encodeFullFrame, stringElement, type IaxFullFrame, type InformationElement } from "../iax2/iax2-frame.js";
import type { AgentContext, AgentEndpoint } from "./agent.js";

/**
 * The client side of one IAX2 call (a registration is a call of its own):
 * its call numbers, sequence numbers and timestamps, as chan_iax2 keeps
 * them, so the frames on the wire are the ones a real client sends.
 */
export class Iax2ClientCall {
  private outSeq = 0;
  private inSeq = 0;
  /** The registrar's call number, learned from its first answer in the call. */
  remoteCall = 0;
  private readonly openedUs: number;

  constructor(
    readonly localCall: number,
    private readonly endpoint: AgentEndpoint,
    private readonly sourcePort: number,
    private readonly target: { readonly address: string; readonly port: number },
    private readonly context: AgentContext,
  ) {
    this.openedUs = context.now();
  }

  /** Sends a control frame; a call token resend starts the call over, with its sequence numbers at 0. */
  send(subclass: number, elements: readonly InformationElement[], options: { retransmitted?: boolean; restart?: boolean } = {}): Uint8Array {
    if (options.restart) {
      this.outSeq = 0;
      this.inSeq = 0;
    }
    const frame: IaxFullFrame = {
      sourceCall: this.localCall,
      destinationCall: this.remoteCall,
      retransmitted: options.retransmitted ?? false,
      timestampMs: Math.max(3, Math.round((this.context.now() - this.openedUs) / 1000)),
      outSeq: this.outSeq,
      inSeq: this.inSeq,
      frameType: FRAME_TYPE_IAX,
      subclass,
      elements,
    };
    // An ACK takes no sequence number of its own.
    if (subclass !== IaxCommand.ACK && !options.retransmitted) this.outSeq = (this.outSeq + 1) & 0xff;
    const payload = encodeFullFrame(frame);
    this.context.send(this.endpoint.agent, { src: this.endpoint.address, sport: this.sourcePort, dst: this.target.address, dport: this.target.port, payload });
    return payload;
  }

  /** Sends the same bytes again with the R bit set, as attempt_transmit does. */
  resend(payload: Uint8Array): void {
    const again = new Uint8Array(payload);
    again[2]! |= 0x80;
    this.context.send(this.endpoint.agent, { src: this.endpoint.address, sport: this.sourcePort, dst: this.target.address, dport: this.target.port, payload: again });
  }

  /**
   * An answer in this call: takes the registrar's call number and the next
   * in-sequence number, and says whether the frame is new. A frame whose
   * sequence number was heard already is the registrar resending it (our
   * answer was lost or dropped): the call has moved past it.
   */
  heard(frame: IaxFullFrame): boolean {
    if (frame.subclass === IaxCommand.CALLTOKEN) return true;
    if (frame.subclass === IaxCommand.ACK) return true;
    if (this.remoteCall !== 0 && frame.outSeq !== this.inSeq) return false;
    this.remoteCall = frame.sourceCall;
    this.inSeq = (frame.outSeq + 1) & 0xff;
    return true;
  }

  ack(frame: IaxFullFrame): void {
    const payload = encodeFullFrame({
      sourceCall: this.localCall,
      destinationCall: frame.sourceCall,
      retransmitted: false,
      timestampMs: frame.timestampMs,
      outSeq: this.outSeq,
      inSeq: this.inSeq,
      frameType: FRAME_TYPE_IAX,
      subclass: IaxCommand.ACK,
      elements: [],
    });
    this.context.send(this.endpoint.agent, { src: this.endpoint.address, sport: this.sourcePort, dst: this.target.address, dport: this.target.port, payload });
  }
}

/** MD5_RESULT: the hex MD5 of the challenge followed by the secret (chan_iax2's authenticate). */
export function iaxMd5Result(challenge: string, secret: string): InformationElement {
  return stringElement(IaxIe.MD5_RESULT, createHash("md5").update(challenge + secret).digest("hex"));
}

/** A call number allocator per agent: chan_iax2 picks from 2..32767. */
export function nextCallNumber(previous: number): number {
  return previous >= 0x7fff || previous < 2 ? 2 : previous + 1;
}
