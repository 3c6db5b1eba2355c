import { decodeFrame, type DecodedPacket } from "./decode-frame.js";
import { describeWarnings, type CapturedFrame } from "./captured-frame.js";
import { linkTypeName } from "./link-types.js";
import { openCapture, type CaptureFormat } from "./read-capture.js";
import { headFacts } from "../sip/head-facts.js";
import { sipMethodOf } from "../sip/sip-method-of.js";
import { decodeFullFrame, FRAME_TYPE_IAX, IAX2_PORT, IaxCommand, iaxCommandName } from "../iax2/iax2-frame.js";
import { SipTcpStreams } from "./sip-tcp-streams.js";
import { parseIpv4 } from "../net/address.js";

/**
 * A SIP request or IAX2 client frame seen in a capture, with what the
 * firewall would key on. The record itself is refilled for each request:
 * it is valid only during the callback that gets it.
 */
export interface CapturedSip {
  readonly timestampNs: bigint;
  /** The same time as nanoseconds since the capture's first packet: a number, exact for 104 days of capture (2^53 ns). */
  readonly atNs: number;
  readonly src: string;
  /**
   * The source's number in this reading of the capture, 0 for the first
   * address that sent a request and so on: a judge keeps its state per
   * source in arrays by it, not in a Map by address.
   */
  readonly sourceIndex: number;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  readonly method: string;
  /** The IP datagram: a view into the frame being read, valid only during the callback that gets it. */
  readonly ip: Uint8Array;
  readonly ipVersion: 4 | 6;
}

export interface SourceProfile {
  readonly address: string;
  /** Registration requests: SIP REGISTERs and IAX2 REGREQs. */
  readonly registers: number;
  readonly requests: number;
  /** Most REGISTERs within any 60 s. */
  readonly peakRegistersPerMinute: number;
  readonly firstNs: bigint;
  readonly lastNs: bigint;
  readonly userAgents: readonly string[];
}

export interface CaptureSummary {
  readonly path: string;
  readonly format: CaptureFormat;
  readonly linkTypes: readonly string[];
  readonly packets: number;
  readonly bytes: number;
  readonly firstNs: bigint | null;
  readonly lastNs: bigint | null;
  readonly ipv4: number;
  readonly ipv6: number;
  readonly udp: number;
  readonly tcp: number;
  readonly fragments: number;
  /** TCP segments that only repeat bytes their stream already carried: judged by the firewall again, not counted as SIP again. */
  readonly tcpRetransmissions: number;
  readonly undecodable: Readonly<Record<string, number>>;
  readonly requests: Readonly<Record<string, number>>;
  readonly requestsWithCredentials: number;
  readonly responses: Readonly<Record<string, number>>;
  readonly userAgents: Readonly<Record<string, number>>;
  /** IAX2 frames on UDP 4569 both ways, by command (REGREQ, REGAUTH, ...), and "mini frames (media)". */
  readonly iax2Frames: Readonly<Record<string, number>>;
  /** Sources by registration rate (SIP REGISTERs and IAX2 REGREQs), highest first. */
  readonly sources: readonly SourceProfile[];
  /** Addresses that received more SIP requests than they sent. */
  readonly servers: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * One pass over a capture: what a user needs to know before replaying it.
 * It holds counts per source and method and each source's REGISTERs of the
 * last minute (for its peak rate), never the packets: memory grows with the
 * sources, not the capture (forEachSipRequest reads the requests again).
 */
export async function inspectCapture(path: string, options: { allowTruncated?: boolean; onRequest?: (request: CapturedSip) => void } = {}): Promise<CaptureSummary> {
  const capture = await openCapture(path, options);
  const onRequest = options.onRequest;
  const request = newRequestRecord();
  const clock = new SinceFirstFrame();
  const sourceNumbers = new SourceNumbers();
  const linkTypes = new Set<number>();
  let lastLinkType = -1;
  const undecodable: Record<string, number> = {};
  const requests: Record<string, number> = {};
  const responses: Record<string, number> = {};
  const userAgents: Record<string, number> = {};
  const iax2Frames: Record<string, number> = {};
  // By source number; `counted` in the order their first request was counted, the order sources are listed in before sorting.
  // `sent`: the SIP requests and IAX2 calls it opened, against those it received, to tell registrars from clients.
  const bySource: Array<SourceTally | undefined> = [];
  const counted: number[] = [];
  const received = new Tally();
  const facts = { agent: null as string | null, credentials: false };
  let packets = 0;
  let bytes = 0;
  let lastNs: bigint | null = null;
  let ipv4 = 0;
  let ipv6 = 0;
  let udp = 0;
  let tcp = 0;
  let fragments = 0;
  let withCredentials = 0;
  let tcpRetransmissions = 0;
  // SIP over TCP counted by message, not segment (memory by streams, not segments).
  const tcpStreams = new SipTcpStreams();
  /** `packet`: the packet the address is the source of, whose bytes number it without a lookup by text (null for a message read at the end). */
  const sourceOf = (address: string, packet: DecodedPacket | null, at: bigint) => {
    const number = packet === null ? sourceNumbers.of(address) : sourceNumbers.ofPacket(packet);
    let source = bySource[number];
    if (source === undefined) {
      bySource[number] = source = { address, registers: 0, lastMinute: new RegistersInWindow(MINUTE_NS), requests: 0, sent: 0, agents: new Set(), firstNs: at, lastNs: at };
      counted.push(number);
    }
    return source;
  };
  /** `atNs`: `at` as nanoseconds since the capture's first packet. */
  const countSip = (src: string, dst: string, packet: DecodedPacket | null, at: bigint, atNs: number, method: string, head: Uint8Array) => {
    if (isStatus(method)) {
      responses[method] = (responses[method] ?? 0) + 1;
      return;
    }
    requests[method] = (requests[method] ?? 0) + 1;
    received.add(dst);
    const { agent, credentials } = headFacts(head, facts);
    if (agent) userAgents[agent] = (userAgents[agent] ?? 0) + 1;
    if (credentials) withCredentials++;
    const source = sourceOf(src, packet, at);
    source.sent++;
    source.requests++;
    source.lastNs = at;
    if (agent) source.agents.add(agent);
    if (method === "REGISTER") {
      source.registers++;
      source.lastMinute.add(atNs);
    }
  };
  for await (const batch of capture.batches()) {
    for (const frame of batch) {
      packets++;
      bytes += frame.originalLength;
      const timestampNs = frame.timestampNs;
      // Before the decode: an undecodable first packet still starts the capture's time.
      const atNs = clock.of(frame);
      lastNs = timestampNs;
      if (frame.linkType !== lastLinkType) linkTypes.add((lastLinkType = frame.linkType));
      const packet = decodeFrame(frame);
      if (typeof packet === "string") {
        undecodable[packet] = (undecodable[packet] ?? 0) + 1;
        continue;
      }
      const method = sipMethodOf(packet.payload);
      const iax2 = method === null ? iax2Of(packet) : null;
      // The requests forEachSipRequest reads, in the same pass: a caller that can judge them as they come reads the capture once.
      if (onRequest && fillRequest(request, packet, method, iax2, timestampNs, atNs, sourceNumbers)) onRequest(request);
      if (packet.ipVersion === 4) ipv4++;
      else ipv6++;
      if (packet.fragment) fragments++;
      if (packet.protocol === 17) udp++;
      else if (packet.protocol === 6) {
        tcp++;
        // SIP over TCP is read per stream; a TCP segment is never IAX2.
        const segment = tcpStreams.push(packet, timestampNs);
        if (segment.retransmitted) tcpRetransmissions++;
        for (const { method, head } of segment.messages) countSip(packet.src, packet.dst, packet, timestampNs, atNs, method, head);
        continue;
      }
      if (method !== null) {
        countSip(packet.src, packet.dst, packet, timestampNs, atNs, method, packet.payload);
        continue;
      }
      if (iax2 === null) continue;
      iax2Frames[iax2.name] = (iax2Frames[iax2.name] ?? 0) + 1;
      if (!iax2.request) continue;
      // A call opened (destination call 0) tells the registrar from its clients, as a SIP request does.
      if (iax2.opensCall) received.add(packet.dst);
      const source = sourceOf(packet.src, packet, timestampNs);
      if (iax2.opensCall) source.sent++;
      source.requests++;
      source.lastNs = timestampNs;
      if (iax2.name === "REGREQ") {
        source.registers++;
        source.lastMinute.add(atNs);
      }
    }
  }
  const firstNs = clock.firstNs;
  // Segments held past a gap the capture never filled: their messages count from the segment after the loss.
  for (const message of tcpStreams.flush()) countSip(message.src, message.dst, null, message.timestampNs, Number(message.timestampNs - firstNs!), message.method, message.head);
  const sources: SourceProfile[] = counted
    .map((number) => {
      const source = bySource[number]!;
      return {
        address: source.address,
        registers: source.registers,
        requests: source.requests,
        peakRegistersPerMinute: source.lastMinute.peak,
        firstNs: source.firstNs,
        lastNs: source.lastNs,
        userAgents: [...source.agents],
      };
    })
    .sort((a, b) => b.peakRegistersPerMinute - a.peakRegistersPerMinute || b.registers - a.registers || b.requests - a.requests);
  const sentBy = (address: string) => {
    const number = sourceNumbers.known(address);
    return number === undefined ? 0 : (bySource[number]?.sent ?? 0);
  };
  const servers = [...received.counts()].filter(([address, count]) => count > sentBy(address)).map(([address]) => address).sort();
  return {
    path,
    format: capture.format,
    linkTypes: [...linkTypes].map((linkType) => `${linkType} (${linkTypeName(linkType)})`),
    packets,
    bytes,
    firstNs,
    lastNs,
    ipv4,
    ipv6,
    udp,
    tcp,
    fragments,
    tcpRetransmissions,
    undecodable,
    requests,
    requestsWithCredentials: withCredentials,
    responses,
    userAgents,
    iax2Frames,
    sources,
    servers,
    warnings: describeWarnings(capture.warnings),
  };
}

interface SourceTally {
  readonly address: string;
  registers: number;
  lastMinute: RegistersInWindow;
  requests: number;
  sent: number;
  agents: Set<string>;
  firstNs: bigint;
  lastNs: bigint;
}

/**
 * Each address that sent a request, numbered from 0 in the order it first
 * did: the one lookup by address a request costs, shared by the summary
 * and a judge (CapturedSip.sourceIndex).
 */
class SourceNumbers {
  /** IPv4 addresses by their 32 bits as a signed number, a small integer V8 hashes without reading a string. */
  private readonly ipv4 = new Map<number, number>();
  private readonly ipv6 = new Map<string, number>();
  private count = 0;

  ofPacket(packet: DecodedPacket): number {
    if (packet.ipVersion === 6) return this.ofIpv6(packet.src);
    const ip = packet.ip;
    return this.ofIpv4((ip[12]! << 24) | (ip[13]! << 16) | (ip[14]! << 8) | ip[15]!);
  }

  of(address: string): number {
    return address.includes(":") ? this.ofIpv6(address) : this.ofIpv4(parseIpv4(address) | 0);
  }

  known(address: string): number | undefined {
    return address.includes(":") ? this.ipv6.get(address) : this.ipv4.get(parseIpv4(address) | 0);
  }

  private ofIpv4(key: number): number {
    let number = this.ipv4.get(key);
    if (number === undefined) this.ipv4.set(key, (number = this.count++));
    return number;
  }

  private ofIpv6(address: string): number {
    let number = this.ipv6.get(address);
    if (number === undefined) this.ipv6.set(address, (number = this.count++));
    return number;
  }
}

/** Counts by address, the last address's count kept at hand: a capture's requests mostly go to one registrar. */
class Tally {
  private readonly byAddress = new Map<string, { count: number }>();
  private lastAddress = "";
  private last: { count: number } | undefined;

  add(address: string): void {
    if (address !== this.lastAddress || this.last === undefined) {
      this.lastAddress = address;
      this.last = this.byAddress.get(address);
      if (this.last === undefined) this.byAddress.set(address, (this.last = { count: 0 }));
    }
    this.last.count++;
  }

  *counts(): IterableIterator<[string, number]> {
    for (const [address, { count }] of this.byAddress) yield [address, count];
  }
}

/**
 * Each frame's time as nanoseconds since the capture's first frame: a
 * number, exact for 104 days of capture (2^53 ns), from the reader's seconds
 * and nanoseconds where it has them, so no bigint is made a frame.
 */
class SinceFirstFrame {
  firstNs: bigint | null = null;
  private firstSeconds = 0;
  private firstNanoseconds = 0;

  of(frame: CapturedFrame): number {
    if (this.firstNs === null) {
      this.firstNs = frame.timestampNs;
      this.firstSeconds = frame.epochSeconds ?? 0;
      this.firstNanoseconds = frame.nanoseconds ?? 0;
    }
    const seconds = frame.epochSeconds;
    if (seconds === undefined || frame.nanoseconds === undefined) return Number(frame.timestampNs - this.firstNs);
    return (seconds - this.firstSeconds) * 1_000_000_000 + (frame.nanoseconds - this.firstNanoseconds);
  }
}

const MINUTE_NS = 60_000_000_000;

/**
 * The most timestamps inside any window of a given length, fed in time
 * order: it keeps only those of the last window (a ring), so a source's
 * memory is its busiest window's, not its whole history.
 */
export class RegistersInWindow {
  /** The window's times, a ring from `start`, `count` of them: it grows only while a window holds more than it did. */
  private times = new Float64Array(8);
  private start = 0;
  private count = 0;
  peak = 0;

  constructor(private readonly windowNs: number) {}

  /**
   * Nanoseconds from any fixed start: a number, exact for 104 days of
   * capture (2^53 ns), where a bigint made garbage on every comparison.
   */
  add(timestampNs: number): void {
    let times = this.times;
    if (this.count === times.length) {
      const grown = new Float64Array(times.length * 2);
      for (let i = 0; i < this.count; i++) grown[i] = times[(this.start + i) % times.length]!;
      this.times = times = grown;
      this.start = 0;
    }
    times[(this.start + this.count) % times.length] = timestampNs;
    this.count++;
    while (timestampNs - times[this.start]! >= this.windowNs) {
      this.start = (this.start + 1) % times.length;
      this.count--;
    }
    if (this.count > this.peak) this.peak = this.count;
  }
}

/**
 * The capture's SIP requests and IAX2 client frames (REGREQ, NEW, ...,
 * named "IAX2 REGREQ") in order, read again one at a time: what `capture
 * inspect` judges against a policy without holding them. A TCP
 * retransmission is a request again (the firewall sees every segment).
 */
export async function forEachSipRequest(path: string, options: { allowTruncated?: boolean }, onRequest: (request: CapturedSip) => void): Promise<void> {
  const request = newRequestRecord();
  const clock = new SinceFirstFrame();
  const sourceNumbers = new SourceNumbers();
  for await (const batch of (await openCapture(path, options)).batches()) {
    for (const frame of batch) {
      const atNs = clock.of(frame);
      const packet = decodeFrame(frame);
      if (typeof packet === "string") continue;
      const method = sipMethodOf(packet.payload);
      if (fillRequest(request, packet, method, method === null ? iax2Of(packet) : null, frame.timestampNs, atNs, sourceNumbers)) onRequest(request);
    }
  }
}

type RequestRecord = { -readonly [K in keyof CapturedSip]: CapturedSip[K] };

const EMPTY = new Uint8Array(0);

function newRequestRecord(): RequestRecord {
  return { timestampNs: 0n, atNs: 0, src: "", sourceIndex: 0, dst: "", sport: 0, dport: 0, method: "", ip: EMPTY, ipVersion: 4 };
}

/**
 * `out` filled with the request the firewall judges in a decoded packet (a SIP
 * request, `method`, or an IAX2 client frame); false for anything else.
 */
function fillRequest(out: RequestRecord, packet: DecodedPacket, method: string | null, iax2: ReturnType<typeof iax2Of>, timestampNs: bigint, atNs: number, sourceNumbers: SourceNumbers): boolean {
  const name = method !== null ? (isStatus(method) ? null : method) : iax2?.request ? `IAX2 ${iax2.name}` : null;
  if (name === null) return false;
  out.timestampNs = timestampNs;
  out.atNs = atNs;
  out.src = packet.src;
  out.sourceIndex = sourceNumbers.ofPacket(packet);
  out.dst = packet.dst;
  out.sport = packet.sport;
  out.dport = packet.dport;
  out.method = name;
  out.ip = packet.ip;
  out.ipVersion = packet.ipVersion;
  return true;
}

/** sipMethodOf's answer for a response: its status code. */
function isStatus(method: string): boolean {
  const first = method.charCodeAt(0);
  return first >= 0x30 && first <= 0x39;
}

/** What a client sends a registrar in IAX2: the frames the registrar's firewall judges as requests. */
const IAX2_CLIENT_COMMANDS: ReadonlySet<number> = new Set([IaxCommand.NEW, IaxCommand.REGREQ, IaxCommand.REGREL, IaxCommand.POKE, IaxCommand.AUTHREP]);

/** An IAX2 frame on UDP 4569: its command's name ("mini frames (media)" for a call's voice), whether a client sends it, and whether it opens a call. */
function iax2Of(packet: DecodedPacket): { name: string; request: boolean; opensCall: boolean } | null {
  if (packet.protocol !== 17 || (packet.sport !== IAX2_PORT && packet.dport !== IAX2_PORT) || packet.fragment?.offset) return null;
  const frame = decodeFullFrame(packet.payload);
  if (frame === null) return packet.payload.length >= 4 && (packet.payload[0]! & 0x80) === 0 ? { name: "mini frames (media)", request: false, opensCall: false } : null;
  if (frame.frameType !== FRAME_TYPE_IAX) return { name: `full frames of type ${frame.frameType}`, request: false, opensCall: false };
  const request = IAX2_CLIENT_COMMANDS.has(frame.subclass);
  return { name: iaxCommandName(frame.subclass), request, opensCall: request && frame.destinationCall === 0 };
}
