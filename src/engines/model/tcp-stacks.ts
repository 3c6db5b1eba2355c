import { TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN } from "../../net/tcp-segment.js";
import { SipStreamFramer } from "../../sip/sip-stream.js";
import { piecesOfWrite } from "../../traffic/write-pieces.js";

/**
 * The two kernels' TCP for SIP over TCP in the model: a user agent's host
 * connecting to the PBX, and the PBX's host accepting. What the firewall
 * between them sees is what Linux sends (net/ipv4/tcp_input.c,
 * tcp_output.c, tcp_timer.c), measured against the lab's kernel:
 * - the handshake with Linux's SYN options; timestamps on every segment;
 *   a write in one packet as netfilter sees it (GSO at the sender, GRO at the
 *   receiver: up to the initial window of ten MSS), or cut where the sender asks;
 * - ACKs: at once while a side is not in "pingpong" (interactive) mode;
 *   a side enters it when it sends data within the delayed-ACK time (40 ms)
 *   of receiving some, and then delays its ACK, which the answer carries
 *   (the PBX's 401 acknowledges the REGISTER), unless two small pushed
 *   segments came (ICSK_ACK_PUSHED2: a request cut in two is ACKed when
 *   read); a delayed ACK nothing carried goes at 40 ms and ends pingpong;
 * - losses (only the firewall loses segments here): a SYN sent again every
 *   1.024 s five times, then after 2.016 s (tcp_syn_linear_timeouts 4,
 *   tcp_syn_retries 6, the timer wheel's rounding); a tail loss probe, the last segment
 *   again, 8 ms (two jiffies plus twice the lab's sub-millisecond RTT) after
 *   new data while two or more are unacknowledged; the retransmission
 *   timeout (RTO_MIN 200 ms plus the RTT's variance, 52 jiffies: 208 ms, as the
 *   lab's kernel doubles it to 416, 832, 1664 ms) resends
 *   the oldest, doubling each time (tcp_retries2 15), and from then on the
 *   sender is in loss recovery with a congestion window of one: new writes
 *   wait, coalesced into full segments, until the data in flight is ACKed.
 * A SYN to a port nothing listens on is answered with an RST; out-of-order
 * data waits in the receive queue.
 */

/** Linux's SYN options: MSS 1460, SACK permitted, timestamps, window scale 7 (20 bytes). */
const MSS = 1460;
/** Every segment after the SYN carries timestamps (NOP, NOP, TS: 12 bytes), leaving this much data per segment. */
const DATA_PER_SEGMENT = MSS - 12;
/**
 * What netfilter sees of a write: one packet of up to the initial
 * congestion window (10 segments), not MSS-sized segments. The sender's
 * OUTPUT hook judges the GSO packet before it is cut, the receiver's INPUT
 * the GRO-merged one (the lab's veths pass it whole); on the wire it is
 * MSS-sized segments.
 */
const GSO_DATA = 10 * DATA_PER_SEGMENT;
const SYN_WINDOW = 64_240;
const WINDOW = 502;
const SYN_RETRIES = 6;
/** tcp_syn_linear_timeouts: so many SYN retransmissions keep the first timeout before it doubles (Linux 6.5 on). */
const SYN_LINEAR_TIMEOUTS = 4;
const HZ = 250;
const DATA_RTO_US = 208_000;
/** The first tail loss probe's delay with two or more segments in flight. */
const TLP_US = 8_000;
/** TCP_DELACK_MIN and TCP_ATO_MIN (HZ/25). */
const DELAYED_ACK_US = 40_000;
const DATA_RETRIES = 15;
/**
 * Pieces of one write cut by the sender leave this far apart: the lab's
 * runner writes each once the one before has reached the kernel (0.1-0.2 ms).
 */
const PIECE_GAP_US = 150;
/** A kernel answers a segment in softirq, well under a millisecond after it arrived. */
export const KERNEL_REACTION_US = 30;

export interface TcpSegment {
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  readonly options: Uint8Array;
  readonly payload: Uint8Array;
}

/** Reads a connection's in-order bytes at one end and gives back the whole SIP messages they complete. */
export interface StreamReader {
  push(bytes: Uint8Array): Uint8Array[];
}

/** Where the stacks meet the engine: its clock, the firewall between them, and the SIP layers at each end. */
export interface TcpWire {
  now(): number;
  at(atUs: number, action: () => void): void;
  /** Puts a segment on the wire from one end; true when the firewall let it reach the other. */
  carry(connection: TcpConnection, fromClient: boolean, segment: TcpSegment): boolean;
  /** A whole SIP message reached the PBX (toClient false) or the user agent. */
  deliver(connection: TcpConnection, toClient: boolean, message: Uint8Array): void;
}

interface Unacknowledged {
  readonly seq: number;
  readonly flags: number;
  readonly payload: Uint8Array;
  readonly end: number;
  /** When it was last put on the wire. */
  sentUs: number;
}

/** One end's sequence space, retransmission queue and receive queue. */
class Side {
  sndNext: number;
  sndUna: number;
  rcvNext = 0;
  readonly unacknowledged: Unacknowledged[] = [];
  readonly outOfOrder = new Map<number, Uint8Array>();
  /** What reads this end's in-order stream: SIP framing, or TLS records first. */
  framer: StreamReader = new SipStreamFramer();
  /** Writes made before the connection was established: each its pieces, each piece its segments. */
  readonly waiting: { readonly pieces: Uint8Array[][]; readonly afterConnectUs: number }[] = [];
  retransmitArmed = false;
  /** The retransmission timeout now (doubled by each timeout, back to the start by an ACK of new data) and the retransmissions so far. */
  rtoUs = DATA_RTO_US;
  retransmissions = 0;
  lastTsEcr = 0;
  /** The server has seen the client's SYN (its receive sequence is set). */
  synchronized = false;
  /** When data last arrived (icsk_ack.lrcvtime); null before any (icsk_ack.ato is 0 then). */
  lastDataReceivedUs: number | null = null;
  /** Interactive mode: this side's ACKs wait for the answer to carry them. */
  pingpong = false;
  /** An ACK is owed for data received; a segment this side sends carries it. */
  ackOwed = false;
  /** Small pushed segments received since the last ACK (two make ICSK_ACK_PUSHED2). */
  pushedSinceAck = 0;
  /** Bumped by every ACK sent, so an armed delayed-ACK timer knows it was carried. */
  ackGeneration = 0;
  /** After a retransmission timeout, until what was in flight is ACKed: one segment at a time, new data waits. */
  inLossRecovery = false;
  /** Writes held during loss recovery. */
  readonly held: Uint8Array[] = [];
  tailProbeArmed = false;
  tailProbeSent = false;

  constructor(
    readonly isn: number,
    readonly tsOffset: number,
  ) {
    this.sndNext = isn;
    this.sndUna = isn;
  }
}

export class TcpConnection {
  state: "syn-sent" | "established" | "closed" = "syn-sent";
  readonly client: Side;
  readonly server: Side;

  constructor(
    /** The user agent's socket (its LAN address behind a NAT) and the PBX's port. */
    readonly clientAddress: string,
    readonly clientPort: number,
    readonly serverPort: number,
    random: () => number,
  ) {
    const word = () => Math.floor(random() * 0x1_0000_0000);
    this.client = new Side(word(), word());
    this.server = new Side(word(), word());
  }
}

export class TcpStacks {
  private readonly connections = new Map<string, TcpConnection>();

  constructor(
    private readonly wire: TcpWire,
    private readonly listening: (port: number) => boolean,
    private readonly random: () => number,
    /** A new connection's readers, when it is not plain SIP over TCP (TLS). */
    private readonly readersFor?: (connection: TcpConnection) => { client: StreamReader; server: StreamReader } | undefined,
  ) {}

  /** A connection from the agent's socket to the PBX's port is up or being made. */
  isOpen(clientAddress: string, clientPort: number, serverPort: number): boolean {
    const connection = this.connections.get(`${clientAddress}:${clientPort}:${serverPort}`);
    return connection !== undefined && connection.state !== "closed";
  }

  /**
   * The user agent writes a SIP message (or several) to its connection from
   * `clientAddress:clientPort`, connecting first if there is none; `cuts`
   * are the lengths of the segments the write goes out in (the last one
   * takes the rest), else it goes out whole (as netfilter sees it: GSO_DATA). A write made
   * before the connection is up goes `afterConnectUs` after it is.
   */
  write(clientAddress: string, clientPort: number, serverPort: number, bytes: Uint8Array, cuts?: readonly number[], afterConnectUs = 0): void {
    const key = `${clientAddress}:${clientPort}:${serverPort}`;
    let connection = this.connections.get(key);
    if (!connection || connection.state === "closed") {
      connection = new TcpConnection(clientAddress, clientPort, serverPort, this.random);
      this.connections.set(key, connection);
      const readers = this.readersFor?.(connection);
      if (readers) {
        connection.client.framer = readers.client;
        connection.server.framer = readers.server;
      }
      this.connect(connection);
    }
    const pieces = piecesOf(bytes, cuts);
    if (connection.state === "syn-sent") connection.client.waiting.push({ pieces, afterConnectUs });
    else this.sendPieces(connection, pieces);
  }

  /** A write's segments: the first piece's now, each piece the sender cut after the one before. */
  private sendPieces(connection: TcpConnection, pieces: readonly Uint8Array[][]): void {
    pieces.forEach((segments, index) => {
      const send = () => {
        segments.forEach((segment, at) => this.sendData(connection, true, segment, at === segments.length - 1));
      };
      if (index === 0) send();
      else this.wire.at(this.wire.now() + index * PIECE_GAP_US, send);
    });
  }

  /** The PBX answers on the connection a message came in on (Asterisk's PJSIP does, over TCP). */
  reply(clientAddress: string, clientPort: number, serverPort: number, bytes: Uint8Array): void {
    const connection = this.connections.get(`${clientAddress}:${clientPort}:${serverPort}`);
    if (!connection || connection.state !== "established") return;
    const segments = cutInto(bytes);
    segments.forEach((segment, at) => this.sendData(connection, false, segment, at === segments.length - 1));
  }

  private connect(connection: TcpConnection): void {
    const client = connection.client;
    const syn: Unacknowledged = { seq: client.isn, flags: TCP_SYN, payload: new Uint8Array(0), end: client.isn + 1, sentUs: this.wire.now() };
    client.sndNext = syn.end >>> 0;
    client.unacknowledged.push(syn);
    const attempt = (tries: number) => {
      if (connection.state !== "syn-sent") return;
      if (tries > SYN_RETRIES) {
        connection.state = "closed";
        return;
      }
      this.emit(connection, true, syn.seq, 0, TCP_SYN, new Uint8Array(0));
      this.wire.at(this.wire.now() + synTimeoutUs(tries), () => attempt(tries + 1));
    };
    attempt(0);
  }

  /** One segment of data; only a write's last carries PSH (GSO clears it on the others: tcp_gso_segment). */
  private sendData(connection: TcpConnection, fromClient: boolean, payload: Uint8Array, push = true): void {
    const side = fromClient ? connection.client : connection.server;
    if (side.inLossRecovery) {
      side.held.push(payload);
      return;
    }
    const now = this.wire.now();
    // tcp_event_data_sent: data sent within the delayed-ACK time of data received makes the side interactive.
    if (side.lastDataReceivedUs !== null && now - side.lastDataReceivedUs < DELAYED_ACK_US) side.pingpong = true;
    const segment: Unacknowledged = { seq: side.sndNext, flags: push ? TCP_PSH | TCP_ACK : TCP_ACK, payload, end: (side.sndNext + payload.length) >>> 0, sentUs: now };
    side.sndNext = segment.end;
    side.unacknowledged.push(segment);
    this.emit(connection, fromClient, segment.seq, side.rcvNext, segment.flags, payload);
    this.armRetransmit(connection, fromClient);
    // packets_out counts MSS-sized segments: a packet of more than one MSS is two or more.
    if (dataInFlight(side).reduce((segments, each) => segments + segmentCount(each), 0) >= 2) this.armTailProbe(connection, fromClient);
  }

  /**
   * The retransmission timer, for the oldest unacknowledged data: when it is
   * due and the data is still unacknowledged, resend it, double the timeout
   * and hold new data (loss recovery), until tcp_retries2 is spent; an ACK
   * of new data has already brought the timeout back (tcp_ack's rearm).
   */
  private armRetransmit(connection: TcpConnection, fromClient: boolean): void {
    const side = fromClient ? connection.client : connection.server;
    const oldest = dataInFlight(side)[0];
    if (side.retransmitArmed || !oldest) return;
    side.retransmitArmed = true;
    this.wire.at(oldest.sentUs + side.rtoUs, () => {
      side.retransmitArmed = false;
      const due = dataInFlight(side)[0];
      if (!due || connection.state !== "established") return;
      if (this.wire.now() < due.sentUs + side.rtoUs) {
        this.armRetransmit(connection, fromClient);
        return;
      }
      if (side.retransmissions >= DATA_RETRIES) {
        connection.state = "closed";
        return;
      }
      side.retransmissions++;
      side.rtoUs *= 2;
      side.inLossRecovery = true;
      // __tcp_retransmit_skb sends one MSS: a larger packet is cut there first.
      const head = segmentCount(due) > 1 ? splitAt(side, due, DATA_PER_SEGMENT)[0] : due;
      head.sentUs = this.wire.now();
      this.emit(connection, fromClient, head.seq, side.rcvNext, head.flags, head.payload);
      this.armRetransmit(connection, fromClient);
    });
  }

  /** tcp_schedule_loss_probe: once per loss episode, the last segment again if nothing was ACKed meanwhile. */
  private armTailProbe(connection: TcpConnection, fromClient: boolean): void {
    const side = fromClient ? connection.client : connection.server;
    if (side.tailProbeArmed || side.tailProbeSent) return;
    side.tailProbeArmed = true;
    const armedAt = side.sndUna;
    this.wire.at(this.wire.now() + TLP_US, () => {
      side.tailProbeArmed = false;
      const inFlight = dataInFlight(side);
      const last = inFlight.at(-1);
      if (!last || side.inLossRecovery || side.sndUna !== armedAt || connection.state !== "established") return;
      side.tailProbeSent = true;
      // tcp_send_loss_probe sends the last MSS-sized piece: a larger packet is cut before it.
      const count = segmentCount(last);
      const probe = count > 1 ? splitAt(side, last, (count - 1) * DATA_PER_SEGMENT)[1] : last;
      this.emit(connection, fromClient, probe.seq, side.rcvNext, probe.flags, probe.payload);
    });
  }

  /** One segment from one end, through the firewall, and what the other end's kernel does with it. */
  private emit(connection: TcpConnection, fromClient: boolean, seq: number, ack: number, flags: number, payload: Uint8Array): void {
    const from = fromClient ? connection.client : connection.server;
    const isSyn = (flags & TCP_SYN) !== 0;
    const segment: TcpSegment = {
      seq,
      ack: flags & TCP_ACK ? ack : 0,
      flags,
      window: isSyn ? SYN_WINDOW : WINDOW,
      options: isSyn ? synOptions(this.tsval(from), from.lastTsEcr) : timestampOptions(this.tsval(from), from.lastTsEcr),
      payload,
    };
    if (flags & TCP_ACK) {
      // Every segment with ACK carries the ACK owed: the delayed one is off (tcp_event_ack_sent).
      from.ackOwed = false;
      from.pushedSinceAck = 0;
      from.ackGeneration++;
    }
    if (!this.wire.carry(connection, fromClient, segment)) return;
    const to = fromClient ? connection.server : connection.client;
    to.lastTsEcr = this.tsval(from);
    this.wire.at(this.wire.now() + KERNEL_REACTION_US, () => (fromClient ? this.atServer(connection, segment) : this.atClient(connection, segment)));
  }

  private tsval(side: Side): number {
    return (side.tsOffset + Math.floor(this.wire.now() / 1000)) >>> 0;
  }

  private atServer(connection: TcpConnection, segment: TcpSegment): void {
    const server = connection.server;
    if (segment.flags & TCP_RST) return;
    if (segment.flags & TCP_SYN) {
      if (!this.listening(connection.serverPort)) {
        // tcp_v4_send_reset: no socket, so an RST that acknowledges the SYN.
        this.emit(connection, false, 0, (segment.seq + 1) >>> 0, TCP_RST | TCP_ACK, new Uint8Array(0));
        return;
      }
      // A SYN again (its SYN/ACK was lost, or a retransmission crossed it) gets the same SYN/ACK.
      if (!server.synchronized) {
        server.synchronized = true;
        server.rcvNext = (segment.seq + 1) >>> 0;
        server.sndNext = (server.isn + 1) >>> 0;
      }
      this.emit(connection, false, server.isn, server.rcvNext, TCP_SYN | TCP_ACK, new Uint8Array(0));
      return;
    }
    this.acknowledge(connection, false, segment.ack);
    this.receiveData(connection, false, segment);
  }

  private atClient(connection: TcpConnection, segment: TcpSegment): void {
    const client = connection.client;
    if (segment.flags & TCP_RST) {
      connection.state = "closed";
      return;
    }
    if (segment.flags & TCP_SYN) {
      if (connection.state === "syn-sent") {
        connection.state = "established";
        client.rcvNext = (segment.seq + 1) >>> 0;
        connection.server.sndUna = connection.server.sndNext;
        this.acknowledge(connection, true, segment.ack);
        this.emit(connection, true, client.sndNext, client.rcvNext, TCP_ACK, new Uint8Array(0));
        for (const { pieces, afterConnectUs } of client.waiting.splice(0)) {
          if (afterConnectUs > 0) this.wire.at(this.wire.now() + afterConnectUs, () => this.sendPieces(connection, pieces));
          else this.sendPieces(connection, pieces);
        }
      } else {
        // A retransmitted SYN/ACK: our ACK was lost; say it again.
        this.emit(connection, true, client.sndNext, client.rcvNext, TCP_ACK, new Uint8Array(0));
      }
      return;
    }
    this.acknowledge(connection, true, segment.ack);
    this.receiveData(connection, true, segment);
  }

  private acknowledge(connection: TcpConnection, fromClient: boolean, ack: number): void {
    const side = fromClient ? connection.client : connection.server;
    let acknowledgedData = false;
    while (side.unacknowledged.length > 0 && ((ack - side.unacknowledged[0]!.end) | 0) >= 0) acknowledgedData = side.unacknowledged.shift()!.payload.length > 0 || acknowledgedData;
    side.sndUna = side.unacknowledged[0]?.seq ?? side.sndNext;
    if (!acknowledgedData) return;
    side.rtoUs = DATA_RTO_US;
    side.retransmissions = 0;
    side.tailProbeSent = false;
    if (!side.inLossRecovery) return;
    const inFlight = dataInFlight(side);
    if (inFlight.length > 0) {
      // Slow start from one segment: the next one missing goes again.
      const next = inFlight[0]!;
      next.sentUs = this.wire.now();
      this.emit(connection, fromClient, next.seq, side.rcvNext, next.flags, next.payload);
      this.armRetransmit(connection, fromClient);
      return;
    }
    side.inLossRecovery = false;
    // What was written meanwhile goes out as one stream, in full segments.
    const held = side.held.splice(0);
    if (held.length) for (const chunk of cutInto(Buffer.concat(held), DATA_PER_SEGMENT)) this.sendData(connection, fromClient, chunk);
  }

  /**
   * In-order data goes up to SIP, out-of-order data waits; then the ACK:
   * at once outside pingpong, for out-of-order data, or once two small
   * pushed segments came; else after the delayed-ACK time, unless data this
   * side sends first carries it.
   */
  private receiveData(connection: TcpConnection, toClient: boolean, segment: TcpSegment): void {
    if (segment.payload.length === 0) return;
    const side = toClient ? connection.client : connection.server;
    const inOrder = segment.seq === side.rcvNext;
    const messages: Uint8Array[] = [];
    if (inOrder) {
      let data: Uint8Array | undefined = segment.payload;
      while (data) {
        side.rcvNext = (side.rcvNext + data.length) >>> 0;
        messages.push(...side.framer.push(data));
        data = side.outOfOrder.get(side.rcvNext);
        if (data) side.outOfOrder.delete(side.rcvNext);
      }
    } else if (((segment.seq - side.rcvNext) | 0) > 0) {
      side.outOfOrder.set(segment.seq, segment.payload);
    }
    side.lastDataReceivedUs = this.wire.now();
    side.ackOwed = true;
    side.pushedSinceAck++;
    // The kernel decides its ACK in softirq, before the application reads what came (and answers it).
    if (!inOrder || !side.pingpong || side.pushedSinceAck >= 2) this.emit(connection, toClient, side.sndNext, side.rcvNext, TCP_ACK, new Uint8Array(0));
    else this.delayAck(connection, toClient);
    for (const message of messages) this.wire.deliver(connection, toClient, message);
  }

  /** The delayed ACK: at 40 ms unless data this side sends first carries it. */
  private delayAck(connection: TcpConnection, toClient: boolean): void {
    const side = toClient ? connection.client : connection.server;
    const generation = side.ackGeneration;
    this.wire.at(this.wire.now() + DELAYED_ACK_US, () => {
      if (side.ackGeneration !== generation || !side.ackOwed || connection.state !== "established") return;
      // The delayed ACK went unanswered: tcp_delack_timer_handler ends pingpong.
      side.pingpong = false;
      this.emit(connection, toClient, side.sndNext, side.rcvNext, TCP_ACK, new Uint8Array(0));
    });
  }
}

/** How many MSS-sized segments a packet of data is (tcp_skb_pcount). */
function segmentCount(segment: Unacknowledged): number {
  return Math.max(1, Math.ceil(segment.payload.length / DATA_PER_SEGMENT));
}

/**
 * tcp_fragment: an unacknowledged packet becomes two in the retransmission
 * queue, the first `length` bytes without PSH, the rest with the packet's flags.
 */
function splitAt(side: Side, segment: Unacknowledged, length: number): [Unacknowledged, Unacknowledged] {
  const first: Unacknowledged = { seq: segment.seq, flags: segment.flags & ~TCP_PSH, payload: segment.payload.subarray(0, length), end: (segment.seq + length) >>> 0, sentUs: segment.sentUs };
  const rest: Unacknowledged = { seq: first.end, flags: segment.flags, payload: segment.payload.subarray(length), end: segment.end, sentUs: segment.sentUs };
  side.unacknowledged.splice(side.unacknowledged.indexOf(segment), 1, first, rest);
  return [first, rest];
}

/** The data segments sent and not yet acknowledged, oldest first. */
function dataInFlight(side: Side): Unacknowledged[] {
  return side.unacknowledged.filter((segment) => segment.payload.length > 0);
}

/** A write cut where the sender asks: each piece's segments, at most one MSS of data each. */
function piecesOf(bytes: Uint8Array, cuts: readonly number[] = []): Uint8Array[][] {
  return piecesOfWrite(bytes, cuts).map((piece) => cutInto(piece));
}

/** Bytes in segments of at most one MSS of data. */
function cutInto(bytes: Uint8Array, most = GSO_DATA): Uint8Array[] {
  const segments: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += most) segments.push(bytes.subarray(at, at + most));
  return segments;
}

/**
 * The wait after SYN number `tries` (0 the first): TCP_TIMEOUT_INIT (1 s)
 * for the first and the next tcp_syn_linear_timeouts retransmissions, then
 * doubling; in jiffies as the timer wheel fires them (rounded up to its
 * level's granularity: the lab's SYNs go 1.024 s apart, then 2.016 s).
 */
function synTimeoutUs(tries: number): number {
  const jiffies = HZ * 2 ** Math.max(0, tries - SYN_LINEAR_TIMEOUTS);
  return (timerWheelJiffies(jiffies) * 1_000_000) / HZ;
}

/** A timeout as the kernel's timer wheel fires it: levels of 64 slots, each 8 times coarser than the one below. */
function timerWheelJiffies(jiffies: number): number {
  let granularity = 1;
  for (let levelEnd = 64; jiffies >= levelEnd; levelEnd *= 8) granularity *= 8;
  return Math.ceil(jiffies / granularity) * granularity;
}

function synOptions(tsval: number, tsecr: number): Uint8Array {
  const options = new Uint8Array(20);
  const view = new DataView(options.buffer);
  options.set([2, 4], 0);
  view.setUint16(2, MSS);
  options.set([4, 2, 8, 10], 4);
  view.setUint32(8, tsval);
  view.setUint32(12, tsecr);
  options.set([1, 3, 3, 7], 16);
  return options;
}

function timestampOptions(tsval: number, tsecr: number): Uint8Array {
  const options = new Uint8Array(12);
  const view = new DataView(options.buffer);
  options.set([1, 1, 8, 10], 0);
  view.setUint32(4, tsval);
  view.setUint32(8, tsecr);
  return options;
}
