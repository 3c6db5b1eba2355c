import type { Packet } from "../../net/packet.js";
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from "../../net/tcp-segment.js";

/**
 * TCP's connection tracking as net/netfilter/nf_conntrack_proto_tcp.c (Linux
 * 6.18) runs it: tcp_error's checks, tcp_new, and nf_conntrack_tcp_packet's
 * state table, timeouts, reopen, ignore and ASSURED rules, and from
 * tcp_in_window the one thing timeouts depend on: data sent and not yet
 * acknowledged caps a state's timeout at 300 s. The window checks themselves
 * are not modelled: every segment counts as in window, as with
 * nf_conntrack_tcp_be_liberal=1, so out-of-window segments of a replayed
 * capture are not INVALID here as they may be in the kernel; nor is the
 * retransmission count (nf_conntrack_tcp_max_retrans).
 */

export const TCP_STATE_NAMES = ["NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"] as const;
export type TcpCtStateName = (typeof TCP_STATE_NAMES)[number];

const sNO = 0;
const sSS = 1;
const sSR = 2;
const sES = 3;
const sFW = 4;
const sCW = 5;
const sLA = 6;
const sTW = 7;
const sCL = 8;
const sS2 = 9;
/** TCP_CONNTRACK_MAX: an invalid transition. */
const sIV = 10;
/** TCP_CONNTRACK_IGNORE. */
const sIG = 11;

/** enum tcp_bit_set: which of RST/SYN/FIN/ACK decides the transition. */
const SYN_SET = 0;
const SYNACK_SET = 1;
const FIN_SET = 2;
const ACK_SET = 3;
const RST_SET = 4;
const NONE_SET = 5;

/** tcp_conntracks[direction][index][old state], copied from the kernel's table. */
const TRANSITIONS: readonly (readonly (readonly number[])[])[] = [
  [
    /* ORIGINAL  sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2 */
    /* syn    */ [sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2],
    /* synack */ [sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR],
    /* fin    */ [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    /* ack    */ [sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV],
    /* rst    */ [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* none   */ [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  ],
  [
    /* REPLY     sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2 */
    /* syn    */ [sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2],
    /* synack */ [sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR],
    /* fin    */ [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    /* ack    */ [sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG],
    /* rst    */ [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* none   */ [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  ],
];


/** tcp_valid_flags: the FIN/SYN/RST/ACK/URG combinations conntrack accepts (PSH, ECE, CWR always are). */
const VALID_FLAGS = new Set([TCP_SYN, TCP_SYN | TCP_URG, TCP_SYN | TCP_ACK, TCP_RST, TCP_RST | TCP_ACK, TCP_FIN | TCP_ACK, TCP_FIN | TCP_ACK | TCP_URG, TCP_ACK, TCP_ACK | TCP_URG]);

/** The TCP timeouts in seconds (nf_conntrack_tcp_timeout_*), by state, with the two that cap them. */
export interface TcpTimeouts {
  readonly synSent: number;
  readonly synRecv: number;
  readonly established: number;
  readonly finWait: number;
  readonly closeWait: number;
  readonly lastAck: number;
  readonly timeWait: number;
  readonly close: number;
  readonly unacknowledged: number;
}

export const DEFAULT_TCP_TIMEOUTS: TcpTimeouts = {
  synSent: 120,
  synRecv: 60,
  established: 432_000,
  finWait: 120,
  closeWait: 60,
  lastAck: 30,
  timeWait: 120,
  close: 10,
  unacknowledged: 300,
};

function timeoutSeconds(state: number, timeouts: TcpTimeouts): number {
  switch (state) {
    case sSS:
    case sS2:
      return timeouts.synSent;
    case sSR:
      return timeouts.synRecv;
    case sES:
      return timeouts.established;
    case sFW:
      return timeouts.finWait;
    case sCW:
      return timeouts.closeWait;
    case sLA:
      return timeouts.lastAck;
    case sTW:
      return timeouts.timeWait;
    default:
      return timeouts.close;
  }
}

/** The TCP header fields conntrack reads. */
export interface TcpSegmentHeader {
  readonly flags: number;
  readonly seq: number;
  readonly ack: number;
  /** segment_seq_plus_len: seq + data length + SYN + FIN. */
  readonly end: number;
}

/**
 * tcp_error: a segment too short for its header, or with a flag combination
 * no TCP sends, is INVALID before any lookup (null here).
 */
export function readTcpSegment(packet: Packet): TcpSegmentHeader | null {
  const start = packet.headerLength;
  const bytes = packet.bytes;
  if (packet.fragmentOffset !== 0 || bytes.length < start + 20) return null;
  const dataOffset = (bytes[start + 12]! >> 4) * 4;
  if (dataOffset < 20 || bytes.length < start + dataOffset) return null;
  const flags = bytes[start + 13]!;
  if (!VALID_FLAGS.has(flags & ~(TCP_ECE | TCP_CWR | TCP_PSH))) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const seq = view.getUint32(start + 4);
  const dataLength = bytes.length - start - dataOffset;
  return { flags, seq, ack: view.getUint32(start + 8), end: (seq + dataLength + (flags & TCP_SYN ? 1 : 0) + (flags & TCP_FIN ? 1 : 0)) >>> 0 };
}

function indexOf(flags: number): number {
  if (flags & TCP_RST) return RST_SET;
  if (flags & TCP_SYN) return flags & TCP_ACK ? SYNACK_SET : SYN_SET;
  if (flags & TCP_FIN) return FIN_SET;
  if (flags & TCP_ACK) return ACK_SET;
  return NONE_SET;
}

/** ct->proto.tcp, as far as the model keeps it. */
export class TcpTracking {
  state = sNO;
  /** IP_CT_TCP_FLAG_CLOSE_INIT per direction: that side sent the first FIN. */
  private readonly closeInit = [false, false];
  private lastIndex = NONE_SET;
  private lastDir = 0;
  private lastEnd = 0;
  /** Per direction: td_end (the highest seq + len sent), whether a segment was seen, IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED. */
  private readonly end = [0, 0];
  private readonly seen = [false, false];
  private readonly unacknowledged = [false, false];

  get stateName(): TcpCtStateName {
    return TCP_STATE_NAMES[this.state]!;
  }

  /**
   * tcp_new: whether a segment with no entry starts one. A SYN does; any
   * other valid first segment only with nf_conntrack_tcp_loose (pickup of a
   * connection already under way); a SYN/ACK, FIN or RST never.
   */
  static opens(segment: TcpSegmentHeader, loose: boolean): boolean {
    const first = TRANSITIONS[0]![indexOf(segment.flags)]![sNO]!;
    if (first >= sIV) return false;
    return first === sSS || loose;
  }

  /**
   * nf_conntrack_tcp_packet for one segment in direction `reply`; the caller
   * has the entry's SEEN_REPLY and ASSURED bits. What comes back says what
   * the kernel does with the packet and the entry.
   */
  step(segment: TcpSegmentHeader, reply: boolean, seenReply: boolean, assured: boolean, timeouts: TcpTimeouts): TcpStep {
    const dir = reply ? 1 : 0;
    const index = indexOf(segment.flags);
    let oldState = this.state;
    let newState = TRANSITIONS[dir]![index]![oldState]!;
    if (newState === sSS && oldState >= sTW) {
      // RFC 1122's reopen from TIME_WAIT or a closed/aborted connection: the entry goes and the SYN is looked up again.
      if (this.closeInit[0] || this.closeInit[1] || (this.lastDir === dir && this.lastIndex === RST_SET)) return { kind: "reopen" };
      newState = sIG;
    }
    if (newState === sIG) {
      if (index === SYNACK_SET && this.lastIndex === SYN_SET && this.lastDir !== dir && segment.ack === this.lastEnd) {
        // The SYN/ACK answers a SYN conntrack ignored: client and server are in sync, so conntrack follows them.
        oldState = sSS;
        newState = sSR;
      } else {
        this.lastIndex = index;
        this.lastDir = dir;
        this.lastEnd = segment.end;
        return { kind: "ignore" };
      }
    }
    if (newState === sIV) return { kind: "invalid" };
    this.lastIndex = index;
    this.lastDir = dir;
    this.state = newState;
    if (oldState !== newState && newState === sFW) this.closeInit[dir] = true;
    this.trackData(segment, dir);
    let timeout = timeoutSeconds(newState, timeouts);
    if ((this.unacknowledged[0] || this.unacknowledged[1]) && timeout > timeouts.unacknowledged) timeout = timeouts.unacknowledged;
    if (!seenReply) {
      // Before any reply: an RST ends the entry at once, a retransmitted SYN does not renew it, a picked-up flow gets no five days.
      if (segment.flags & TCP_RST) return { kind: "kill" };
      if (index === SYN_SET && oldState === sSS) return { kind: "accept", timeoutSeconds: null, assure: false };
      if (newState === sES) timeout = Math.min(timeout, timeouts.unacknowledged);
    }
    const assure = seenReply && !assured && (oldState === sSR || oldState === sES) && newState === sES;
    return { kind: "accept", timeoutSeconds: timeout, assure };
  }

  /**
   * tcp_in_window's bookkeeping of an in-window segment: a direction's first
   * segment sets its end; data past the end is unacknowledged until the
   * other side ACKs exactly that end (a segment without ACK counts as one).
   */
  private trackData(segment: TcpSegmentHeader, dir: number): void {
    const other = 1 - dir;
    if (!this.seen[dir]) {
      this.seen[dir] = true;
      this.end[dir] = segment.end;
    } else if (after(segment.end, this.end[dir]!)) {
      this.end[dir] = segment.end;
      this.unacknowledged[dir] = true;
    }
    const ack = segment.flags & TCP_ACK ? segment.ack : this.end[other]!;
    if (this.seen[other] && ack === this.end[other]) this.unacknowledged[other] = false;
  }
}

/** after(): sequence numbers compared modulo 2^32. */
function after(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/**
 * What conntrack does with a segment of a known entry: accept it (renewing the
 * timeout unless null, setting ASSURED), let it pass untouched (IGNORE), call
 * it INVALID, drop the entry and track the segment anew (reopen), or end the
 * entry and let the segment pass (an RST before any reply).
 */
export type TcpStep =
  | { readonly kind: "accept"; readonly timeoutSeconds: number | null; readonly assure: boolean }
  | { readonly kind: "ignore" }
  | { readonly kind: "invalid" }
  | { readonly kind: "reopen" }
  | { readonly kind: "kill" };
