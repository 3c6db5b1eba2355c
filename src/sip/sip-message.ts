/**
 * SIP messages on the wire, built and read by slamlab's own code: sip.js's
 * builders draw tags and branches from Math.random (runs must be reproducible
 * from a seed) and its parser is too slow for floods (see parseSip).
 */

import { isAscii } from "node:buffer";

export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

const decoder = new TextDecoder("utf-8", { fatal: false });

/**
 * The payload as text. Almost every message is ASCII, whose bytes are its
 * characters: read as latin1 they make V8's one-byte string directly, where
 * the UTF-8 decoder first validates them; anything else is decoded as UTF-8.
 */
function textOf(payload: Uint8Array): string {
  if (!isAscii(payload)) return decoder.decode(payload);
  const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return bytes.toString("latin1");
}

/**
 * A message's UTF-8 bytes. Buffer.from takes a small string from node's
 * shared pool in about a fifth of TextEncoder.encode's time (which allocates
 * a backing store of its own per message): every packet a run sends is
 * encoded once, so this was a tenth of a flood's time.
 */
function utf8(text: string): Uint8Array {
  return Buffer.from(text, "utf8");
}

export function formatRequest(method: string, uri: string, headers: HeaderList, body = ""): Uint8Array {
  return formatHead(`${method} ${uri} SIP/2.0\r\n${headerLines(headers)}`, body);
}

/**
 * A message from its start line and header lines as one string ("Name: value\r\n" each): Content-Length and the body are added.
 * `contentLengthWidth` pads the length as PJSIP does ("Content-Length:  0", right-aligned in 5).
 */
export function formatHead(head: string, body = "", contentLengthWidth = 0): Uint8Array {
  return utf8(`${head}Content-Length: ${String(Buffer.byteLength(body, "utf8")).padStart(contentLengthWidth)}\r\n\r\n${body}`);
}

export function formatResponse(status: number, reason: string, headers: HeaderList, body = "", contentLengthWidth = 0): Uint8Array {
  return formatHead(`SIP/2.0 ${status} ${reason}\r\n${headerLines(headers)}`, body, contentLengthWidth);
}

function headerLines(headers: HeaderList): string {
  let text = "";
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return text;
}

/** A parsed message with the fields slamlab's agents and PBX model read. */
export interface SipMessage {
  readonly kind: "request" | "response";
  /** Request method, or the method of the transaction a response answers (from CSeq). */
  readonly method: string;
  readonly requestUri: string;
  readonly status: number;
  readonly reason: string;
  readonly callId: string;
  readonly cseq: number;
  readonly viaBranch: string;
  readonly fromUser: string;
  readonly fromTag: string;
  readonly toUser: string;
  readonly toTag: string;
  header(name: string): string | undefined;
  headers(name: string): string[];
}

/** RFC 3261 compact header names. */
const compactNames = new Map([["v", "via"], ["f", "from"], ["t", "to"], ["i", "call-id"], ["m", "contact"], ["l", "content-length"], ["c", "content-type"], ["k", "supported"], ["o", "event"]]);

/**
 * Parses a datagram payload; null when it is not a SIP message. A small
 * parser of our own: sip.js's grammar takes about 1.2 ms per REGISTER here,
 * which would dominate every run; test/sip checks both agree on our messages.
 * Every packet a run delivers is parsed once, so the head is walked in place
 * (no split into lines, no trimmed copies), common header names are
 * recognised where they are written, a header's value is kept as where it
 * lies and copied out when read, and the From and To parts are read when
 * asked for.
 */
export function parseSip(payload: Uint8Array): SipMessage | null {
  const text = textOf(payload);
  // Lines end at CRLF; the head at the first empty line (the first CRLFCRLF), or with the text.
  const firstBreak = crlfFrom(text, 0);
  const startEnd = firstBreak < 0 ? text.length : firstBreak;
  const status = statusOf(text, startEnd);
  const methodEnd = status === 0 ? requestMethodEnd(text, startEnd) : 0;
  if (status === 0 && methodEnd === 0) return null;
  // Each header line's name and where its value lies: values are copied out only when read.
  const names: string[] = [];
  const bounds: number[] = [];
  let lineStart = firstBreak < 0 ? text.length : firstBreak + 2;
  while (lineStart < text.length) {
    let lineEnd = crlfFrom(text, lineStart);
    if (lineEnd === lineStart) break;
    if (lineEnd < 0) lineEnd = text.length;
    const colon = text.indexOf(":", lineStart);
    if (colon > lineStart && colon < lineEnd) {
      let nameStart = lineStart;
      let nameEnd = colon;
      while (nameStart < nameEnd && isSpace(text.charCodeAt(nameStart))) nameStart++;
      while (nameEnd > nameStart && isSpace(text.charCodeAt(nameEnd - 1))) nameEnd--;
      let valueStart = colon + 1;
      let valueEnd = lineEnd;
      while (valueStart < valueEnd && isSpace(text.charCodeAt(valueStart))) valueStart++;
      while (valueEnd > valueStart && isSpace(text.charCodeAt(valueEnd - 1))) valueEnd--;
      names.push(knownHeaderName(text, nameStart, nameEnd) ?? canonicalName(text.slice(nameStart, nameEnd)));
      bounds.push(valueStart, valueEnd);
    }
    lineStart = lineEnd + 2;
  }
  const cseqAt = names.indexOf("cseq");
  const callIdAt = names.indexOf("call-id");
  const viaAt = names.indexOf("via");
  if (cseqAt < 0 || callIdAt < 0 || viaAt < 0) return null;
  const cseq = cseqOf(text, bounds[2 * cseqAt]!, bounds[2 * cseqAt + 1]!);
  if (!cseq) return null;
  return new ParsedSipMessage(
    status !== 0 ? "response" : "request",
    status !== 0 ? cseq.method : text.slice(0, methodEnd),
    status !== 0 ? "" : text.slice(methodEnd + 1, startEnd - SIP_VERSION_SUFFIX.length),
    status,
    // The reason: what follows the code and one optional space.
    status !== 0 ? text.slice(text.charCodeAt(STATUS_PREFIX.length + 3) === 0x20 ? STATUS_PREFIX.length + 4 : STATUS_PREFIX.length + 3, startEnd) : "",
    text.slice(bounds[2 * callIdAt], bounds[2 * callIdAt + 1]),
    cseq.number,
    branchOf(text, bounds[2 * viaAt]!, bounds[2 * viaAt + 1]!),
    text,
    names,
    bounds,
  );
}

const STATUS_PREFIX = "SIP/2.0 ";
const SIP_VERSION_SUFFIX = " SIP/2.0";

/**
 * A status line's code, as /^SIP\/2\.0 ([1-6]\d\d) ?(.*)$/ reads text[0,
 * end): 0 when it is no status line. Read in place: a flood's every message
 * went through that expression's match array and a copy of its start line.
 */
function statusOf(text: string, end: number): number {
  if (end < STATUS_PREFIX.length + 3 || !text.startsWith(STATUS_PREFIX)) return 0;
  const at = STATUS_PREFIX.length;
  const hundreds = text.charCodeAt(at) - 0x30;
  if (hundreds < 1 || hundreds > 6 || !isDigit(text.charCodeAt(at + 1)) || !isDigit(text.charCodeAt(at + 2))) return 0;
  // `.` matches no line terminator, and `$` is the line's end.
  for (let rest = at + 3; rest < end; rest++) if (isLineTerminator(text.charCodeAt(rest))) return 0;
  return hundreds * 100 + (text.charCodeAt(at + 1) - 0x30) * 10 + (text.charCodeAt(at + 2) - 0x30);
}

/**
 * Where a request line's method ends (the space after it), as
 * /^([A-Z]{3,16}) (\S+) SIP\/2\.0$/ reads text[0, end): 0 when it is no
 * request line.
 */
function requestMethodEnd(text: string, end: number): number {
  let at = 0;
  while (at < end && at <= 16 && isUpperLetter(text.charCodeAt(at))) at++;
  if (at < 3 || at > 16 || text.charCodeAt(at) !== 0x20) return 0;
  const uriEnd = end - SIP_VERSION_SUFFIX.length;
  if (uriEnd <= at + 1 || !text.startsWith(SIP_VERSION_SUFFIX, uriEnd)) return 0;
  for (let uri = at + 1; uri < uriEnd; uri++) if (isSpace(text.charCodeAt(uri))) return 0;
  return at;
}

/** The first `;branch=` parameter's value in text[start, end), as /;\s*branch=([^;,\s]+)/i finds it; "" when there is none. */
function branchOf(text: string, start: number, end: number): string {
  for (let semicolon = text.indexOf(";", start); semicolon >= 0 && semicolon < end; semicolon = text.indexOf(";", semicolon + 1)) {
    let at = semicolon + 1;
    while (at < end && isSpace(text.charCodeAt(at))) at++;
    if (at + 7 > end || (text.charCodeAt(at + 6) !== 0x3d)) continue;
    let name = 0;
    for (; name < 6; name++) if ((text.charCodeAt(at + name) | 0x20) !== "branch".charCodeAt(name)) break;
    if (name < 6) continue;
    const valueStart = at + 7;
    let valueEnd = valueStart;
    while (valueEnd < end) {
      const code = text.charCodeAt(valueEnd);
      if (code === 0x3b || code === 0x2c || isSpace(code)) break;
      valueEnd++;
    }
    if (valueEnd > valueStart) return text.slice(valueStart, valueEnd);
  }
  return "";
}

/** ECMAScript's LineTerminator: what `.` does not match. */
function isLineTerminator(code: number): boolean {
  return code === 0x0a || code === 0x0d || code === 0x2028 || code === 0x2029;
}

/** Where the next CRLF at or after `from` starts, or -1: a search for the LF alone, which V8 runs as a fast scan of one character. */
function crlfFrom(text: string, from: number): number {
  for (let at = text.indexOf("\n", from); at >= 0; at = text.indexOf("\n", at + 1)) {
    if (at > from && text.charCodeAt(at - 1) === 0x0d) return at - 1;
  }
  return -1;
}

/** CSeq's "<digits> <METHOD>" from text[start, end), as /^(\d+)\s+([A-Z]+)/ reads it; null when it is not that. */
function cseqOf(text: string, start: number, end: number): { number: number; method: string } | null {
  let at = start;
  while (at < end && isDigit(text.charCodeAt(at))) at++;
  const digitsEnd = at;
  if (digitsEnd === start) return null;
  while (at < end && isSpace(text.charCodeAt(at))) at++;
  if (at === digitsEnd) return null;
  const methodStart = at;
  while (at < end && isUpperLetter(text.charCodeAt(at))) at++;
  if (at === methodStart) return null;
  return { number: Number(text.slice(start, digitsEnd)), method: text.slice(methodStart, at) };
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function isUpperLetter(code: number): boolean {
  return code >= 0x41 && code <= 0x5a;
}

/** What String.prototype.trim removes (ECMAScript's WhiteSpace and LineTerminator). */
function isSpace(code: number): boolean {
  if (code === 0x20 || (code >= 0x09 && code <= 0x0d)) return true;
  if (code < 0xa0) return false;
  return code === 0xa0 || code === 0x1680 || (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x2029 || code === 0x202f || code === 0x205f || code === 0x3000 || code === 0xfeff;
}

/**
 * A class rather than an object with closures: one allocation a message, the
 * lookups on its prototype. Headers are found by a scan of their names (a
 * message has a dozen; known names are the same interned strings).
 */
class ParsedSipMessage implements SipMessage {
  private fromParts: { user: string; tag: string } | undefined;
  private toParts: { user: string; tag: string } | undefined;

  constructor(
    readonly kind: "request" | "response",
    readonly method: string,
    readonly requestUri: string,
    readonly status: number,
    readonly reason: string,
    readonly callId: string,
    readonly cseq: number,
    readonly viaBranch: string,
    private readonly text: string,
    private readonly names: readonly string[],
    private readonly bounds: readonly number[],
  ) {}

  get fromUser(): string {
    return (this.fromParts ??= partsOf(this.valueOf("from") ?? "")).user;
  }

  get fromTag(): string {
    return (this.fromParts ??= partsOf(this.valueOf("from") ?? "")).tag;
  }

  get toUser(): string {
    return (this.toParts ??= partsOf(this.valueOf("to") ?? "")).user;
  }

  get toTag(): string {
    return (this.toParts ??= partsOf(this.valueOf("to") ?? "")).tag;
  }

  header(name: string): string | undefined {
    return this.valueOf(canonicalName(name));
  }

  headers(name: string): string[] {
    const canonical = canonicalName(name);
    const values: string[] = [];
    for (let index = 0; index < this.names.length; index++) if (this.names[index] === canonical) values.push(this.valueAt(index));
    return values;
  }

  /** The first value of the header by its canonical name. */
  private valueOf(canonical: string): string | undefined {
    const index = this.names.indexOf(canonical);
    return index < 0 ? undefined : this.valueAt(index);
  }

  private valueAt(index: number): string {
    return this.text.slice(this.bounds[2 * index], this.bounds[2 * index + 1]);
  }
}

function partsOf(nameAddress: string): { user: string; tag: string } {
  return { user: userOf(nameAddress), tag: tagOf(nameAddress) };
}

/*
 * A header name as written -> its lower-case, long form. Messages name the
 * same few headers over and over: a bounded cache spares lower-casing each.
 */
const canonicalNames = new Map<string, string>();

function canonicalName(name: string): string {
  let canonical = canonicalNames.get(name);
  if (canonical === undefined) {
    const lower = name.toLowerCase();
    canonical = compactNames.get(lower) ?? lower;
    if (canonicalNames.size >= 1024) canonicalNames.clear();
    canonicalNames.set(name, canonical);
  }
  return canonical;
}

/**
 * The headers messages carry again and again, by their length, as the long
 * lower-case names they stand for (compact forms included), so the common
 * names are recognised in place rather than copied out and looked up.
 */
const KNOWN_NAMES = ["via", "from", "to", "call-id", "cseq", "contact", "max-forwards", "user-agent", "server", "accept", "content-length", "content-type", "www-authenticate", "authorization", "proxy-authenticate", "proxy-authorization", "expires", "allow", "supported", "event", "date", "min-expires", "subscription-state"];
const knownByLength: Array<Array<{ written: string; canonical: string }>> = [];
for (const name of [...KNOWN_NAMES, ...compactNames.keys()]) (knownByLength[name.length] ??= []).push({ written: name, canonical: compactNames.get(name) ?? name });

/** The canonical name of the header named in text[start, end) when it is a known one, in any case; undefined otherwise. */
function knownHeaderName(text: string, start: number, end: number): string | undefined {
  const candidates = knownByLength[end - start];
  if (candidates === undefined) return undefined;
  for (const { written, canonical } of candidates) {
    let at = 0;
    for (; at < written.length; at++) {
      const expected = written.charCodeAt(at);
      const code = text.charCodeAt(start + at);
      // A letter in either case; '-' only as itself.
      if (code !== expected && (expected === 0x2d || (code | 0x20) !== expected)) break;
    }
    if (at === written.length) return canonical;
  }
  return undefined;
}

function userOf(nameAddress: string): string {
  return /sips?:([^@;>:]+)@/i.exec(nameAddress)?.[1] ?? "";
}

function tagOf(nameAddress: string): string {
  const afterUri = nameAddress.includes(">") ? nameAddress.slice(nameAddress.indexOf(">")) : nameAddress;
  return /;\s*tag=([^;\s]+)/i.exec(afterUri)?.[1] ?? "";
}

/**
 * The request's top Via as PJSIP answers over UDP (RFC 3581): `rport` filled
 * with the source port, `received` with the source address, then the branch
 * and any other parameters, in the order PJSIP writes them.
 */
export function viaWithReceived(via: string, sourceAddress: string, sourcePort: number): string {
  // Walked in place: every request a run answers has its Via rewritten, and a split, a trim and a lower-cased name per parameter were a tenth of the PBX's time.
  let end = via.indexOf(";");
  if (end < 0) end = via.length;
  const sentBy = trimmedSlice(via, 0, end);
  let hadRport = false;
  let rest = "";
  while (end < via.length) {
    let start = end + 1;
    end = via.indexOf(";", start);
    if (end < 0) end = via.length;
    let stop = end;
    while (start < stop && isSpace(via.charCodeAt(start))) start++;
    while (stop > start && isSpace(via.charCodeAt(stop - 1))) stop--;
    let nameEnd = via.indexOf("=", start);
    if (nameEnd < 0 || nameEnd > stop) nameEnd = stop;
    if (isNamed(via, start, nameEnd, "rport")) hadRport = true;
    else if (!isNamed(via, start, nameEnd, "received")) rest += `;${via.slice(start, stop)}`;
  }
  return `${sentBy}${hadRport ? `;rport=${sourcePort}` : ""};received=${sourceAddress}${rest}`;
}

function trimmedSlice(text: string, start: number, end: number): string {
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/** Whether text[start, end) is `lowerName` in any case (ASCII letters: no other character lower-cases to one). */
function isNamed(text: string, start: number, end: number, lowerName: string): boolean {
  if (end - start !== lowerName.length) return false;
  for (let at = 0; at < lowerName.length; at++) if ((text.charCodeAt(start + at) | 0x20) !== lowerName.charCodeAt(at)) return false;
  return true;
}
