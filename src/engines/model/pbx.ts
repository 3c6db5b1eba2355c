import type { Datagram } from "../../traffic/agent.js";

/**
 * The registrar side of the lab. The model engine runs `PbxModel`, which
 * answers as Asterisk 22 PJSIP does; the docker engine runs real Asterisk.
 */
export interface PbxModel {
  /** A datagram reached the PBX's socket; returns the replies it sends, with their delay. */
  receive(datagram: Datagram, nowUs: number): readonly PbxReply[];
}

export interface PbxReply {
  readonly datagram: Datagram;
  /** Processing delay before the reply leaves the PBX. */
  readonly delayUs: number;
  /** A retransmission the PBX drops if, when its time comes, this says the peer has acknowledged the frame. */
  readonly unlessAcknowledged?: () => boolean;
}
