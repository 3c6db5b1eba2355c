/**
 * SIP messages on the wire, built and read by slamlab's own code: sip.js's
 * builders draw tags and branches from Math.random (runs must be reproducible
 * from a seed) and its parser is too slow for floods (see parseSip).
 */

export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

const decoder = new TextDecoder("utf-8", { fatal: false });

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
  return utf8(`${method} ${uri} SIP/2.0\r\n${formatHeaders(headers, body)}`);
}

/** `contentLengthWidth` pads the length as PJSIP does ("Content-Length:  0", right-aligned in 5). */
export function formatResponse(status: number, reason: string, headers: HeaderList, body = "", contentLengthWidth = 0): Uint8Array {
  return utf8(`SIP/2.0 ${status} ${reason}\r\n${formatHeaders(headers, body, contentLengthWidth)}`);
}

function formatHeaders(headers: HeaderList, body: string, contentLengthWidth = 0): string {
  let text = "";
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return `${text}Content-Length: ${String(Buffer.byteLength(body, "utf8")).padStart(contentLengthWidth)}\r\n\r\n${body}`;
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
const compactNames: Record<string, string> = { v: "via", f: "from", t: "to", i: "call-id", m: "contact", l: "content-length", c: "content-type", k: "supported", o: "event" };

/**
 * Parses a datagram payload; null when it is not a SIP message. A small
 * parser of our own: sip.js's grammar takes about 1.2 ms per REGISTER here,
 * which would dominate every run; test/sip checks both agree on our messages.
 * Every packet a run delivers is parsed once, so the head is walked in place
 * (no split into lines) and a header's values are kept as one string unless
 * it repeats.
 */
export function parseSip(payload: Uint8Array): SipMessage | null {
  const text = decoder.decode(payload);
  const headEnd = text.indexOf("\r\n\r\n");
  const end = headEnd < 0 ? text.length : headEnd;
  const firstBreak = text.indexOf("\r\n");
  const startLine = firstBreak < 0 || firstBreak > end ? text.slice(0, end) : text.slice(0, firstBreak);
  const response = /^SIP\/2\.0 ([1-6]\d\d) ?(.*)$/.exec(startLine);
  const request = response ? null : /^([A-Z]{3,16}) (\S+) SIP\/2\.0$/.exec(startLine);
  if (!response && !request) return null;
  const fields = new Map<string, string>();
  let repeated: Map<string, string[]> | null = null;
  let lineStart = firstBreak < 0 || firstBreak > end ? end : firstBreak + 2;
  while (lineStart < end) {
    let lineEnd = text.indexOf("\r\n", lineStart);
    if (lineEnd < 0 || lineEnd > end) lineEnd = end;
    const colon = text.indexOf(":", lineStart);
    if (colon > lineStart && colon < lineEnd) {
      const rawName = text.slice(lineStart, colon).trim().toLowerCase();
      const name = compactNames[rawName] ?? rawName;
      const value = text.slice(colon + 1, lineEnd).trim();
      if (!fields.has(name)) fields.set(name, value);
      else {
        repeated ??= new Map();
        const more = repeated.get(name);
        if (more) more.push(value);
        else repeated.set(name, [value]);
      }
    }
    lineStart = lineEnd + 2;
  }
  const cseq = /^(\d+)\s+([A-Z]+)/.exec(fields.get("cseq") ?? "");
  const callId = fields.get("call-id");
  const via = fields.get("via");
  if (!cseq || !callId || !via) return null;
  const from = fields.get("from") ?? "";
  const to = fields.get("to") ?? "";
  return new ParsedSipMessage(
    response ? "response" : "request",
    request ? request[1]! : cseq[2]!,
    request ? request[2]! : "",
    response ? Number(response[1]) : 0,
    response ? response[2]! : "",
    callId,
    Number(cseq[1]),
    /;\s*branch=([^;,\s]+)/i.exec(via)?.[1] ?? "",
    userOf(from),
    tagOf(from),
    userOf(to),
    tagOf(to),
    fields,
    repeated,
  );
}

/** A class rather than an object with closures: one allocation a message, the lookups on its prototype. */
class ParsedSipMessage implements SipMessage {
  constructor(
    readonly kind: "request" | "response",
    readonly method: string,
    readonly requestUri: string,
    readonly status: number,
    readonly reason: string,
    readonly callId: string,
    readonly cseq: number,
    readonly viaBranch: string,
    readonly fromUser: string,
    readonly fromTag: string,
    readonly toUser: string,
    readonly toTag: string,
    private readonly fields: ReadonlyMap<string, string>,
    private readonly repeated: ReadonlyMap<string, string[]> | null,
  ) {}

  header(name: string): string | undefined {
    return this.fields.get(canonicalName(name));
  }

  headers(name: string): string[] {
    const canonical = canonicalName(name);
    const first = this.fields.get(canonical);
    if (first === undefined) return [];
    const more = this.repeated?.get(canonical);
    return more ? [first, ...more] : [first];
  }
}

function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return compactNames[lower] ?? lower;
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
  const [sentBy, ...parameters] = via.split(";").map((part) => part.trim());
  const hadRport = parameters.some((parameter) => /^rport(=|$)/i.test(parameter));
  const rest = parameters.filter((parameter) => !/^(rport|received)(=|$)/i.test(parameter));
  return [sentBy, ...(hadRport ? [`rport=${sourcePort}`] : []), `received=${sourceAddress}`, ...rest].join(";");
}
