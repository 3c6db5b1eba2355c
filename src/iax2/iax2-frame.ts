/**
 * IAX2 full frames (RFC 5456 8.1) as Asterisk's chan_iax2 writes them: a
 * 12-byte header (F bit and source call number, R bit and destination call
 * number, timestamp, out and in sequence numbers, frame type, subclass)
 * and, for IAX control frames, information elements (type, length, data).
 * Registration is all full frames of type IAX; mini frames carry media only.
 */

export const IAX2_PORT = 4569;
/** AST_FRAME_IAX: the frame type of IAX control frames. */
export const FRAME_TYPE_IAX = 6;
export const FULL_HEADER_LENGTH = 12;

/** The subclasses of IAX control frames a registration uses (iax2.h's IAX_COMMAND_*). */
export const IaxCommand = {
  NEW: 1,
  PING: 2,
  PONG: 3,
  ACK: 4,
  HANGUP: 5,
  REJECT: 6,
  ACCEPT: 7,
  AUTHREQ: 8,
  AUTHREP: 9,
  INVAL: 10,
  LAGRQ: 11,
  LAGRP: 12,
  REGREQ: 13,
  REGAUTH: 14,
  REGACK: 15,
  REGREJ: 16,
  REGREL: 17,
  VNAK: 18,
  POKE: 30,
  CALLTOKEN: 40,
} as const;

/** Information element types (iax2.h's IAX_IE_*). */
export const IaxIe = {
  USERNAME: 6,
  PASSWORD: 7,
  AUTHMETHODS: 14,
  CHALLENGE: 15,
  MD5_RESULT: 16,
  APPARENT_ADDR: 18,
  REFRESH: 19,
  CAUSE: 22,
  DATETIME: 31,
  CAUSECODE: 42,
  CALLTOKEN: 54,
} as const;

/** AUTHMETHODS bits. */
export const IAX_AUTH_MD5 = 2;

export interface InformationElement {
  readonly type: number;
  readonly data: Uint8Array;
}

export interface IaxFullFrame {
  /** 15-bit call number of the sender. */
  readonly sourceCall: number;
  /** 15-bit call number at the receiver; 0 on a call's first frame. */
  readonly destinationCall: number;
  readonly retransmitted: boolean;
  readonly timestampMs: number;
  readonly outSeq: number;
  readonly inSeq: number;
  readonly frameType: number;
  readonly subclass: number;
  readonly elements: readonly InformationElement[];
}

const NAMES = new Map<number, string>(Object.entries(IaxCommand).map(([name, value]) => [value, name]));

/** REGREQ, REGAUTH, ...: how captures and reports name an IAX control frame. */
export function iaxCommandName(subclass: number): string {
  return NAMES.get(subclass) ?? `IAX command ${subclass}`;
}

export function encodeFullFrame(frame: IaxFullFrame): Uint8Array {
  const elementsLength = frame.elements.reduce((sum, element) => sum + 2 + element.data.length, 0);
  const bytes = new Uint8Array(FULL_HEADER_LENGTH + elementsLength);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, 0x8000 | (frame.sourceCall & 0x7fff));
  view.setUint16(2, (frame.retransmitted ? 0x8000 : 0) | (frame.destinationCall & 0x7fff));
  view.setUint32(4, frame.timestampMs >>> 0);
  bytes[8] = frame.outSeq & 0xff;
  bytes[9] = frame.inSeq & 0xff;
  bytes[10] = frame.frameType;
  bytes[11] = frame.subclass;
  let offset = FULL_HEADER_LENGTH;
  for (const element of frame.elements) {
    if (element.data.length > 255) throw new RangeError(`IAX2 information element ${element.type} holds ${element.data.length} bytes; at most 255 fit`);
    bytes[offset] = element.type;
    bytes[offset + 1] = element.data.length;
    bytes.set(element.data, offset + 2);
    offset += 2 + element.data.length;
  }
  return bytes;
}

/**
 * The full frame in a UDP payload, or null for a mini frame (F bit clear),
 * a payload shorter than the header, or IAX elements that overrun it
 * (iax_parse_ies refuses those, and chan_iax2 drops the frame).
 */
export function decodeFullFrame(payload: Uint8Array): IaxFullFrame | null {
  if (payload.length < FULL_HEADER_LENGTH || (payload[0]! & 0x80) === 0) return null;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const frameType = payload[10]!;
  const elements: InformationElement[] = [];
  if (frameType === FRAME_TYPE_IAX) {
    let offset = FULL_HEADER_LENGTH;
    while (offset < payload.length) {
      if (offset + 2 > payload.length) return null;
      const length = payload[offset + 1]!;
      if (offset + 2 + length > payload.length) return null;
      elements.push({ type: payload[offset]!, data: payload.subarray(offset + 2, offset + 2 + length) });
      offset += 2 + length;
    }
  }
  return {
    sourceCall: view.getUint16(0) & 0x7fff,
    destinationCall: view.getUint16(2) & 0x7fff,
    retransmitted: (payload[2]! & 0x80) !== 0,
    timestampMs: view.getUint32(4),
    outSeq: payload[8]!,
    inSeq: payload[9]!,
    frameType,
    subclass: payload[11]!,
    elements,
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function stringElement(type: number, text: string): InformationElement {
  return { type, data: encoder.encode(text) };
}

export function shortElement(type: number, value: number): InformationElement {
  return { type, data: Uint8Array.of((value >> 8) & 0xff, value & 0xff) };
}

export function byteElement(type: number, value: number): InformationElement {
  return { type, data: Uint8Array.of(value & 0xff) };
}

export function intElement(type: number, value: number): InformationElement {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, value >>> 0);
  return { type, data };
}

/** An IPv4 address as iax_ie_append_addr writes a sockaddr_in: family in host (little-endian) order, then port and address in network order. */
export function addressElement(type: number, address: string, port: number): InformationElement {
  const data = new Uint8Array(16);
  data[0] = 2;
  data[2] = (port >> 8) & 0xff;
  data[3] = port & 0xff;
  address.split(".").forEach((octet, index) => (data[4 + index] = Number(octet)));
  return { type, data };
}

export function elementOf(frame: IaxFullFrame, type: number): InformationElement | undefined {
  return frame.elements.find((element) => element.type === type);
}

export function elementString(frame: IaxFullFrame, type: number): string | undefined {
  const element = elementOf(frame, type);
  return element ? decoder.decode(element.data) : undefined;
}

export function elementShort(frame: IaxFullFrame, type: number): number | undefined {
  const element = elementOf(frame, type);
  return element && element.data.length >= 2 ? (element.data[0]! << 8) | element.data[1]! : undefined;
}

/** Whether a UDP payload is an IAX control frame of the given command (what a u32 rule on bytes 10-11 tests). */
export function isIaxCommand(payload: Uint8Array, subclass: number): boolean {
  return payload.length >= FULL_HEADER_LENGTH && (payload[0]! & 0x80) !== 0 && payload[10] === FRAME_TYPE_IAX && payload[11] === subclass;
}
