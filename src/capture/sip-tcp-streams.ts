import { sipMethodOf } from "../sip/sip-method-of.js";
import { concatBytes } from "./concat-bytes.js";
import type { DecodedPacket } from "./decode-frame.js";

/** A SIP message a TCP stream completed: its method (or status) and its header bytes. */
export interface StreamedSipMessage {
  readonly method: string;
  readonly head: Uint8Array;
}

/** What one segment did to its stream. */
export interface SegmentMessages {
  /** The segment only repeated bytes its stream had carried (a retransmission). */
  readonly retransmitted: boolean;
  /** The messages this segment completed, in order (several when a segment carries several). */
  readonly messages: StreamedSipMessage[];
}

/** A message's headers longer than this are not SIP a registrar would take: the stream resynchronises past them. */
const MAX_HEAD_BYTES = 16 * 1024;
/** The largest body a message may announce before the stream resynchronises instead of waiting for it. */
const MAX_BODY_BYTES = 64 * 1024;

interface Stream {
  /** The sequence number the stream's next new byte carries. */
  next: number;
  /** Bytes of a message not yet complete. */
  pending: Uint8Array;
  /** Segments that came ahead of a gap, held until the gap fills (a reordering) or too many wait (a loss). */
  ahead: Array<{ seq: number; payload: Uint8Array; timestampNs: bigint }>;
  readonly src: string;
  readonly dst: string;
}

/** A message read from held segments when the capture ended: its stream's ends and its last segment's time. */
export interface FlushedSipMessage extends StreamedSipMessage {
  readonly src: string;
  readonly dst: string;
  readonly timestampNs: bigint;
}

/** Segments held ahead of a gap before it is taken for a loss: a reordering in a capture spans a few segments. */
const MAX_HELD_SEGMENTS = 8;

/**
 * SIP over TCP read as a byte stream per direction, the way a registrar
 * reads it (RFC 3261 18.3: a message ends Content-Length bytes after its
 * blank line): a segment may carry part of a message, or several; a
 * retransmission's bytes are read once, and only the new part of a segment
 * that overlaps what the stream carried. Segments that come ahead of a gap
 * wait for it to fill (a reordering); when too many wait, the gap was a
 * loss, and the stream starts again at the next message's start line.
 * Memory is a message in progress and a few held segments per stream.
 */
export class SipTcpStreams {
  private readonly streams = new Map<string, Stream>();
  /** Bytes skipped to find a message's start again (a lost segment, or a stream that is not SIP): a stream that skips and finds nothing is let go. */
  private skippedBytes = 0;

  push(packet: DecodedPacket, timestampNs: bigint): SegmentMessages {
    const ip = packet.ip;
    const at = packet.transportOffset;
    const payload = packet.payload;
    if (ip.length < at + 8 || payload.length === 0) return { retransmitted: false, messages: [] };
    const seq = ((ip[at + 4]! << 24) | (ip[at + 5]! << 16) | (ip[at + 6]! << 8) | ip[at + 7]!) >>> 0;
    const key = `${packet.src}:${packet.sport}>${packet.dst}:${packet.dport}`;
    let stream = this.streams.get(key);
    if (!stream) {
      // A stream is read from its first segment that starts a SIP message: other TCP (HTTP, TLS) costs nothing.
      if (sipMethodOf(payload) === null) return { retransmitted: false, messages: [] };
      this.streams.set(key, (stream = { next: seq, pending: new Uint8Array(0), ahead: [], src: packet.src, dst: packet.dst }));
    }
    const end = (seq + payload.length) >>> 0;
    // Sequence numbers compare modulo 2^32, as TCP's do.
    if (((end - stream.next) | 0) <= 0) return { retransmitted: true, messages: [] };
    const messages: StreamedSipMessage[] = [];
    const skippedBefore = this.skippedBytes;
    if (((seq - stream.next) | 0) > 0) {
      if (stream.ahead.some((held) => held.seq === seq && held.payload.length === payload.length)) return { retransmitted: true, messages: [] };
      stream.ahead.push({ seq, payload: new Uint8Array(payload), timestampNs });
      if (stream.ahead.length <= MAX_HELD_SEGMENTS) return { retransmitted: false, messages: [] };
      this.skipGap(stream);
    } else this.read(stream, seq, payload, messages);
    this.readHeld(stream, messages);
    // A stream that lost its way and found no message start in what it has: read it again from its next segment that starts one.
    if (this.skippedBytes > skippedBefore && stream.pending.length === 0 && messages.length === 0 && stream.ahead.length === 0) this.streams.delete(key);
    return { retransmitted: false, messages };
  }

  /** What the held segments of every stream still hold when the capture ends: their gaps were losses. */
  flush(): FlushedSipMessage[] {
    const flushed: FlushedSipMessage[] = [];
    for (const stream of this.streams.values()) {
      while (stream.ahead.length) {
        const timestampNs = stream.ahead.reduce((last, held) => (held.timestampNs > last ? held.timestampNs : last), 0n);
        this.skipGap(stream);
        const messages: StreamedSipMessage[] = [];
        this.readHeld(stream, messages);
        for (const message of messages) flushed.push({ ...message, src: stream.src, dst: stream.dst, timestampNs });
      }
    }
    return flushed;
  }

  /** The bytes before the first held segment are lost: what was pending cannot be finished, and the stream goes on from there. */
  private skipGap(stream: Stream): void {
    stream.ahead.sort((a, b) => (a.seq - b.seq) | 0);
    this.skippedBytes += stream.pending.length;
    stream.pending = new Uint8Array(0);
    stream.next = stream.ahead[0]!.seq;
  }

  /** Reads the held segments that follow on from the stream's next byte (the gap before them filled, or was skipped). */
  private readHeld(stream: Stream, messages: StreamedSipMessage[]): void {
    for (;;) {
      const index = stream.ahead.findIndex((held) => ((held.seq - stream.next) | 0) <= 0);
      if (index < 0) return;
      const [held] = stream.ahead.splice(index, 1);
      this.read(stream, held!.seq, held!.payload, messages);
    }
  }

  /** Reads a segment that starts at or before the stream's next byte: its new bytes only. */
  private read(stream: Stream, seq: number, payload: Uint8Array, messages: StreamedSipMessage[]): void {
    const end = (seq + payload.length) >>> 0;
    if (((end - stream.next) | 0) <= 0) return;
    const behind = (stream.next - seq) | 0;
    const fresh = behind > 0 ? payload.subarray(behind) : payload;
    stream.next = end;
    stream.pending = stream.pending.length ? concatBytes([stream.pending, fresh]) : new Uint8Array(fresh);
    stream.pending = this.takeMessages(stream.pending, messages);
  }

  /** Takes every complete message off the front of `bytes`; returns what is left (a message in progress). */
  private takeMessages(bytes: Uint8Array, messages: StreamedSipMessage[]): Uint8Array {
    let start = 0;
    for (;;) {
      // Keepalives (RFC 5626's CRLF pings) and stray line ends between messages.
      while (start < bytes.length && (bytes[start] === 0x0d || bytes[start] === 0x0a)) start++;
      if (start >= bytes.length) return new Uint8Array(0);
      const headEnd = blankLineAt(bytes, start);
      if (headEnd < 0) {
        if (bytes.length - start <= MAX_HEAD_BYTES) return new Uint8Array(bytes.subarray(start));
        return this.resync(bytes, start + 1, messages);
      }
      const head = bytes.subarray(start, headEnd);
      const method = sipMethodOf(head);
      if (method === null) return this.resync(bytes, start + 1, messages);
      const bodyLength = contentLength(head);
      if (bodyLength === null || bodyLength > MAX_BODY_BYTES) return this.resync(bytes, headEnd, messages);
      const messageEnd = headEnd + 4 + bodyLength;
      if (messageEnd > bytes.length) return new Uint8Array(bytes.subarray(start));
      messages.push({ method, head: new Uint8Array(head) });
      start = messageEnd;
    }
  }

  /** Skips to the next line that starts a SIP message, from `from` on. */
  private resync(bytes: Uint8Array, from: number, messages: StreamedSipMessage[]): Uint8Array {
    for (let at = from; at < bytes.length; at++) {
      if (bytes[at - 1] !== 0x0a) continue;
      const line = bytes.subarray(at, Math.min(bytes.length, at + 1024));
      if (sipMethodOf(line) !== null) {
        this.skippedBytes += at - from + 1;
        return this.takeMessages(bytes.subarray(at), messages);
      }
    }
    this.skippedBytes += bytes.length - from + 1;
    return new Uint8Array(0);
  }
}

/** Where the head's blank line (CRLF CRLF) starts, from `from`; -1 if it has not come yet. */
function blankLineAt(bytes: Uint8Array, from: number): number {
  for (let at = from; at + 3 < bytes.length; at++) {
    if (bytes[at] === 0x0d && bytes[at + 1] === 0x0a && bytes[at + 2] === 0x0d && bytes[at + 3] === 0x0a) return at;
  }
  return -1;
}

/** Content-Length (or its compact form l) of a message head; 0 when absent, null when unreadable. */
function contentLength(head: Uint8Array): number | null {
  const text = new TextDecoder().decode(head);
  const match = /\r\n(?:Content-Length|l)[ \t]*:[ \t]*([^\r\n]*)/i.exec(text);
  if (!match) return 0;
  const value = match[1]!.trim();
  return /^\d{1,9}$/.test(value) ? Number(value) : null;
}
