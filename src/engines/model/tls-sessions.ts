import { concatBytes as concat } from "../../capture/concat-bytes.js";
import { SipStreamFramer } from "../../sip/sip-stream.js";

/**
 * SIP over TLS in the model: TLS 1.3 between a user agent and PJSIP's TLS
 * transport, on top of the model's TCP. A firewall sees only records: their
 * sizes, when they go, and in whose segments; every byte after a record's
 * header is ciphertext (here seeded noise), so no rule can match a method.
 * What the lab's two ends send, read off the lab's wire (the runner's Node 24
 * and Asterisk 22, both on OpenSSL 3.6, X25519MLKEM768, AES-256-GCM, the
 * lab's RSA-2048 certificate):
 * - the ClientHello, one record of 1,561 bytes (the hybrid key share is
 *   most of it), written 0.6 ms after the connection is up: two segments on the
 *   wire, one packet to netfilter (GSO and GRO);
 * - 1.0 ms later the server's flight: ServerHello, a ChangeCipherSpec, then
 *   EncryptedExtensions, a CertificateRequest (PJSIP asks for a client
 *   certificate it does not require), Certificate, CertificateVerify and
 *   Finished, each in a record (2,505 bytes, one packet);
 * - 0.7 ms after that the client's ChangeCipherSpec, its empty Certificate
 *   and its Finished, and in the same write every request it held;
 * - the server's two session tickets as soon as the client's Finished is in;
 * - then each write is one application-data record: the plaintext, its
 *   content type and a 16-byte tag (22 bytes more with the header).
 */

/** A record: its content type and the length after its 5-byte header. */
type RecordShape = readonly [type: number, length: number];

const HANDSHAKE = 0x16;
const CHANGE_CIPHER_SPEC = 0x14;
const APPLICATION_DATA = 0x17;
const CLIENT_HELLO: readonly RecordShape[] = [[HANDSHAKE, 1561]];
const SERVER_FLIGHT: readonly RecordShape[] = [
  [HANDSHAKE, 1210],
  [CHANGE_CIPHER_SPEC, 1],
  [APPLICATION_DATA, 23],
  [APPLICATION_DATA, 79],
  [APPLICATION_DATA, 807],
  [APPLICATION_DATA, 281],
  [APPLICATION_DATA, 69],
];
const CLIENT_FINISHED: readonly RecordShape[] = [
  [CHANGE_CIPHER_SPEC, 1],
  [APPLICATION_DATA, 25],
  [APPLICATION_DATA, 69],
];
const SESSION_TICKETS: readonly RecordShape[] = [
  [APPLICATION_DATA, 74],
  [APPLICATION_DATA, 74],
];
/** TLS 1.3's inner content type and the AEAD tag. */
const RECORD_OVERHEAD = 1 + 16;
/** Plaintext per record (RFC 8446 5.1): a longer write is several records. */
const MAX_PLAINTEXT = 16_384;
/**
 * The lab's handshakes in a flood, steady state (medians of random-6104's):
 * the runner writes its ClientHello 0.6 ms after the connection is up, the
 * server's flight follows 1.0 ms after the ClientHello is in (key exchange
 * and certificate signature), the client's Finished 0.7 ms after the flight.
 * A process's first handshake is slower (about 6 ms in all: OpenSSL warming
 * up), which the model does not give.
 */
const CLIENT_HELLO_US = 600;
export const SERVER_FLIGHT_US = 1_000;
export const CLIENT_FINISHED_US = 700;
/** OpenSSL sends the tickets when the client's Finished is read, before the request behind it. */
const TICKETS_US = 200;

/** The TCP underneath: a client's write (connecting first), the server's answer, and whether a connection is up or being made. */
export interface TlsCarrier {
  now(): number;
  at(atUs: number, action: () => void): void;
  write(clientAddress: string, clientPort: number, serverPort: number, bytes: Uint8Array, afterConnectUs?: number): void;
  reply(clientAddress: string, clientPort: number, serverPort: number, bytes: Uint8Array): void;
  isOpen(clientAddress: string, clientPort: number, serverPort: number): boolean;
}

/** Bytes the other end reads as one thing: a handshake flight (what it does then) or an application record's plaintext. */
interface Unit {
  readonly length: number;
  readonly plaintext?: Uint8Array;
  readonly arrived?: () => void;
}

class TlsSession {
  clientFinished = false;
  readonly held: Uint8Array[] = [];
  readonly toServer: Unit[] = [];
  readonly toClient: Unit[] = [];

  constructor(
    readonly clientAddress: string,
    readonly clientPort: number,
    readonly serverPort: number,
  ) {}
}

/** One end's reading of the stream: whole units in, whole SIP messages out. */
export class TlsReceiver {
  private buffered = 0;
  private readonly sip = new SipStreamFramer();

  constructor(private readonly units: Unit[]) {}

  push(bytes: Uint8Array): Uint8Array[] {
    this.buffered += bytes.length;
    const messages: Uint8Array[] = [];
    while (this.units.length > 0 && this.buffered >= this.units[0]!.length) {
      const unit = this.units.shift()!;
      this.buffered -= unit.length;
      if (unit.plaintext) messages.push(...this.sip.push(unit.plaintext));
      else unit.arrived?.();
    }
    return messages;
  }
}

export class TlsSessions {
  private readonly sessions = new Map<string, TlsSession>();
  private noise: number;

  constructor(
    private readonly carrier: TlsCarrier,
    random: () => number,
  ) {
    this.noise = Math.floor(random() * 0xffff_fffe) + 1;
  }

  /** The user agent writes plaintext: before the handshake is done it waits, then each write is a record. */
  write(clientAddress: string, clientPort: number, serverPort: number, plaintext: Uint8Array): void {
    const key = `${clientAddress}:${clientPort}:${serverPort}`;
    let session = this.sessions.get(key);
    if (!session || !this.carrier.isOpen(clientAddress, clientPort, serverPort)) {
      session = new TlsSession(clientAddress, clientPort, serverPort);
      this.sessions.set(key, session);
      const hello = this.flight(CLIENT_HELLO, session.toServer, () => this.serverHello(session!));
      this.carrier.write(clientAddress, clientPort, serverPort, hello, CLIENT_HELLO_US);
    }
    if (!session.clientFinished) session.held.push(plaintext);
    else this.send(session, true, this.records(plaintext, session.toServer));
  }

  /** The PBX answers on the session a request came in on. */
  reply(clientAddress: string, clientPort: number, serverPort: number, plaintext: Uint8Array): void {
    const session = this.sessions.get(`${clientAddress}:${clientPort}:${serverPort}`);
    if (session) this.send(session, false, this.records(plaintext, session.toClient));
  }

  /** What reads the stream at one end of a new connection: the session made for it just before. */
  receiverFor(clientAddress: string, clientPort: number, serverPort: number, toClient: boolean): TlsReceiver {
    const session = this.sessions.get(`${clientAddress}:${clientPort}:${serverPort}`)!;
    return new TlsReceiver(toClient ? session.toClient : session.toServer);
  }

  private serverHello(session: TlsSession): void {
    this.carrier.at(this.carrier.now() + SERVER_FLIGHT_US, () => this.send(session, false, this.flight(SERVER_FLIGHT, session.toClient, () => this.clientFinish(session))));
  }

  private clientFinish(session: TlsSession): void {
    this.carrier.at(this.carrier.now() + CLIENT_FINISHED_US, () => {
      session.clientFinished = true;
      const finished = this.flight(CLIENT_FINISHED, session.toServer, () => this.tickets(session));
      const requests = session.held.splice(0).map((plaintext) => this.records(plaintext, session.toServer));
      this.send(session, true, concat([finished, ...requests]));
    });
  }

  private tickets(session: TlsSession): void {
    this.carrier.at(this.carrier.now() + TICKETS_US, () => this.send(session, false, this.flight(SESSION_TICKETS, session.toClient)));
  }

  private send(session: TlsSession, fromClient: boolean, bytes: Uint8Array): void {
    // A session's late flight after its connection died and another took its place goes nowhere.
    if (this.sessions.get(`${session.clientAddress}:${session.clientPort}:${session.serverPort}`) !== session) return;
    if (fromClient) this.carrier.write(session.clientAddress, session.clientPort, session.serverPort, bytes);
    else this.carrier.reply(session.clientAddress, session.clientPort, session.serverPort, bytes);
  }

  /** A handshake flight's records, and what the other end does once it has read them all. */
  private flight(shapes: readonly RecordShape[], units: Unit[], arrived?: () => void): Uint8Array {
    const bytes = concat(shapes.map(([type, length], index) => this.record(type, length, shapes === CLIENT_HELLO ? 0x0301 : 0x0303, index === 0 ? handshakeType(shapes) : undefined)));
    units.push({ length: bytes.length, ...(arrived ? { arrived } : {}) });
    return bytes;
  }

  /** Application data: a record per 16 KiB of plaintext, each unit carrying its plaintext to the other end. */
  private records(plaintext: Uint8Array, units: Unit[]): Uint8Array {
    const records: Uint8Array[] = [];
    for (let at = 0; at < plaintext.length || at === 0; at += MAX_PLAINTEXT) {
      const piece = plaintext.subarray(at, at + MAX_PLAINTEXT);
      const record = this.record(APPLICATION_DATA, piece.length + RECORD_OVERHEAD, 0x0303);
      units.push({ length: record.length, plaintext: piece });
      records.push(record);
    }
    return concat(records);
  }

  /** A record header and ciphertext: noise from the run's seed (a handshake record's first byte says its message). */
  private record(type: number, length: number, version: number, message?: number): Uint8Array {
    const bytes = new Uint8Array(5 + length);
    bytes[0] = type;
    bytes[1] = version >> 8;
    bytes[2] = version & 0xff;
    bytes[3] = length >> 8;
    bytes[4] = length & 0xff;
    for (let at = 5; at < bytes.length; at++) {
      // xorshift32: cheap noise, the same for the same seed.
      this.noise ^= this.noise << 13;
      this.noise ^= this.noise >>> 17;
      this.noise ^= this.noise << 5;
      bytes[at] = this.noise & 0xff;
    }
    if (type === CHANGE_CIPHER_SPEC) bytes[5] = 1;
    if (message !== undefined) bytes[5] = message;
    return bytes;
  }
}

/** ClientHello (1) or ServerHello (2): the only handshake messages not encrypted. */
function handshakeType(shapes: readonly RecordShape[]): number | undefined {
  if (shapes === CLIENT_HELLO) return 1;
  if (shapes === SERVER_FLIGHT) return 2;
  return undefined;
}
