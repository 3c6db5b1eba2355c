import { TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN } from "../../net/tcp-segment.js";
import { SipStreamFramer } from "../../sip/sip-stream.js";

/**
 * The two kernels' TCP for SIP over TCP in the model: a user agent's host
 * connecting to the PBX, and the PBX's host accepting. What the firewall
 * between them sees is what Linux sends (RFC 9293 as net/ipv4/tcp*.c does
 * it): the handshake with Linux's SYN options, data in segments of at most
 * one MSS (or cut where the sender asks, to show a message split across
 * segments), an immediate ACK for each data segment (quick-ack mode, as at
 * a connection's start), and retransmission of what was not acknowledged:
 * a SYN after 1, 2, 4... s (tcp_syn_retries 6), data after 200 ms doubling
 * (TCP_RTO_MIN; tcp_retries2 15). A SYN to a port nothing listens on is
 * answered with an RST. Segments are never lost but by the firewall, so
 * there is no congestion control to model; out-of-order data is held until
 * the gap is filled, as the receive queue does.
 */

/** Linux's SYN options: MSS 1460, SACK permitted, timestamps, window scale 7 (20 bytes). */
const MSS = 1460;
/** Every segment after the SYN carries timestamps (NOP, NOP, TS: 12 bytes), leaving this much data per segment. */
const DATA_PER_SEGMENT = MSS - 12;
const SYN_WINDOW = 64_240;
const WINDOW = 502;
const SYN_RTO_US = 1_000_000;
const SYN_RETRIES = 6;
const DATA_RTO_US = 200_000;
const DATA_RETRIES = 15;
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
  readonly framer = new SipStreamFramer();
  /** Bytes the application wrote before the connection was established. */
  readonly waiting: Uint8Array[][] = [];
  retransmitArmed = false;
  /** The retransmission timeout now (doubled by each timeout, back to the start by an ACK of new data) and the retransmissions so far. */
  rtoUs = DATA_RTO_US;
  retransmissions = 0;
  lastTsEcr = 0;
  /** The server has seen the client's SYN (its receive sequence is set). */
  synchronized = false;

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
  ) {}

  /**
   * The user agent writes a SIP message (or several) to its connection from
   * `clientAddress:clientPort`, connecting first if there is none; `cuts`
   * are the lengths of the segments the write goes out in (the last one
   * takes the rest), else it goes out in MSS-sized segments.
   */
  write(clientAddress: string, clientPort: number, serverPort: number, bytes: Uint8Array, cuts?: readonly number[]): void {
    const key = `${clientAddress}:${clientPort}:${serverPort}`;
    let connection = this.connections.get(key);
    if (!connection || connection.state === "closed") {
      connection = new TcpConnection(clientAddress, clientPort, serverPort, this.random);
      this.connections.set(key, connection);
      this.connect(connection);
    }
    const chunks = cutInto(bytes, cuts);
    if (connection.state === "syn-sent") connection.client.waiting.push(chunks);
    else for (const chunk of chunks) this.sendData(connection, true, chunk);
  }

  /** The PBX answers on the connection a message came in on (Asterisk's PJSIP does, over TCP). */
  reply(clientAddress: string, clientPort: number, serverPort: number, bytes: Uint8Array): void {
    const connection = this.connections.get(`${clientAddress}:${clientPort}:${serverPort}`);
    if (!connection || connection.state !== "established") return;
    for (const chunk of cutInto(bytes)) this.sendData(connection, false, chunk);
  }

  private connect(connection: TcpConnection): void {
    const client = connection.client;
    const syn: Unacknowledged = { seq: client.isn, flags: TCP_SYN, payload: new Uint8Array(0), end: client.isn + 1, sentUs: this.wire.now() };
    client.sndNext = syn.end >>> 0;
    client.unacknowledged.push(syn);
    const startUs = this.wire.now();
    const attempt = (tries: number) => {
      if (connection.state !== "syn-sent") return;
      if (tries > SYN_RETRIES) {
        connection.state = "closed";
        return;
      }
      this.emit(connection, true, syn.seq, 0, TCP_SYN, new Uint8Array(0));
      this.wire.at(startUs + SYN_RTO_US * (2 ** (tries + 1) - 1), () => attempt(tries + 1));
    };
    attempt(0);
  }

  private sendData(connection: TcpConnection, fromClient: boolean, payload: Uint8Array): void {
    const side = fromClient ? connection.client : connection.server;
    const segment: Unacknowledged = { seq: side.sndNext, flags: TCP_PSH | TCP_ACK, payload, end: (side.sndNext + payload.length) >>> 0, sentUs: this.wire.now() };
    side.sndNext = segment.end;
    side.unacknowledged.push(segment);
    this.emit(connection, fromClient, segment.seq, side.rcvNext, segment.flags, payload);
    this.armRetransmit(connection, fromClient);
  }

  /**
   * The retransmission timer, for the oldest unacknowledged data: when it is
   * due and the data is still unacknowledged, resend it and double the
   * timeout, until tcp_retries2 is spent; an ACK of new data has already
   * brought the timeout back (tcp_ack's rearm).
   */
  private armRetransmit(connection: TcpConnection, fromClient: boolean): void {
    const side = fromClient ? connection.client : connection.server;
    const oldest = side.unacknowledged.find((segment) => segment.payload.length > 0);
    if (side.retransmitArmed || !oldest) return;
    side.retransmitArmed = true;
    this.wire.at(oldest.sentUs + side.rtoUs, () => {
      side.retransmitArmed = false;
      const due = side.unacknowledged.find((segment) => segment.payload.length > 0);
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
      due.sentUs = this.wire.now();
      this.emit(connection, fromClient, due.seq, side.rcvNext, due.flags, due.payload);
      this.armRetransmit(connection, fromClient);
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
    this.acknowledge(server, segment.ack);
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
        this.acknowledge(client, segment.ack);
        this.emit(connection, true, client.sndNext, client.rcvNext, TCP_ACK, new Uint8Array(0));
        for (const chunks of client.waiting.splice(0)) for (const chunk of chunks) this.sendData(connection, true, chunk);
      } else {
        // A retransmitted SYN/ACK: our ACK was lost; say it again.
        this.emit(connection, true, client.sndNext, client.rcvNext, TCP_ACK, new Uint8Array(0));
      }
      return;
    }
    this.acknowledge(client, segment.ack);
    this.receiveData(connection, true, segment);
  }

  private acknowledge(side: Side, ack: number): void {
    let acknowledgedData = false;
    while (side.unacknowledged.length > 0 && ((ack - side.unacknowledged[0]!.end) | 0) >= 0) acknowledgedData = side.unacknowledged.shift()!.payload.length > 0 || acknowledgedData;
    side.sndUna = side.unacknowledged[0]?.seq ?? side.sndNext;
    if (acknowledgedData) {
      side.rtoUs = DATA_RTO_US;
      side.retransmissions = 0;
    }
  }

  /** In-order data goes up to SIP; out-of-order data waits; every data segment is ACKed at once. */
  private receiveData(connection: TcpConnection, toClient: boolean, segment: TcpSegment): void {
    if (segment.payload.length === 0) return;
    const side = toClient ? connection.client : connection.server;
    if (segment.seq === side.rcvNext) {
      let data: Uint8Array | undefined = segment.payload;
      while (data) {
        side.rcvNext = (side.rcvNext + data.length) >>> 0;
        for (const message of side.framer.push(data)) this.wire.deliver(connection, toClient, message);
        data = side.outOfOrder.get(side.rcvNext);
        if (data) side.outOfOrder.delete(side.rcvNext);
      }
    } else if (((segment.seq - side.rcvNext) | 0) > 0) {
      side.outOfOrder.set(segment.seq, segment.payload);
    }
    this.emit(connection, toClient, side.sndNext, side.rcvNext, TCP_ACK, new Uint8Array(0));
  }
}

/** A write cut where the sender asks (the last cut takes the rest), each piece at most one segment's data. */
function cutInto(bytes: Uint8Array, cuts: readonly number[] = []): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let offset = 0;
  for (const cut of cuts) {
    if (offset >= bytes.length) break;
    pieces.push(bytes.subarray(offset, Math.min(bytes.length, offset + cut)));
    offset += cut;
  }
  const segments: Uint8Array[] = [];
  for (const piece of offset < bytes.length ? [...pieces, bytes.subarray(offset)] : pieces) {
    for (let at = 0; at < piece.length; at += DATA_PER_SEGMENT) segments.push(piece.subarray(at, at + DATA_PER_SEGMENT));
  }
  return segments;
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
