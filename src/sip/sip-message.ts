/**
 * SIP messages on the wire, built and read by slamlab's own code: sip.js's
 * builders draw tags and branches from Math.random (runs must be reproducible
 * from a seed) and its parser is too slow for floods (see parseSip).
 */

export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

export function formatRequest(method: string, uri: string, headers: HeaderList, body = ""): Uint8Array {
  return encoder.encode(`${method} ${uri} SIP/2.0\r\n${formatHeaders(headers, body)}`);
}

/** `contentLengthWidth` pads the length as PJSIP does ("Content-Length:  0", right-aligned in 5). */
export function formatResponse(status: number, reason: string, headers: HeaderList, body = "", contentLengthWidth = 0): Uint8Array {
  return encoder.encode(`SIP/2.0 ${status} ${reason}\r\n${formatHeaders(headers, body, contentLengthWidth)}`);
}

function formatHeaders(headers: HeaderList, body: string, contentLengthWidth = 0): string {
  let text = "";
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return `${text}Content-Length: ${String(encoder.encode(body).length).padStart(contentLengthWidth)}\r\n\r\n${body}`;
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
 */
export function parseSip(payload: Uint8Array): SipMessage | null {
  const text = decoder.decode(payload);
  const headEnd = text.indexOf("\r\n\r\n");
  const lines = (headEnd < 0 ? text : text.slice(0, headEnd)).split("\r\n");
  const startLine = lines[0] ?? "";
  const response = /^SIP\/2\.0 ([1-6]\d\d) ?(.*)$/.exec(startLine);
  const request = response ? null : /^([A-Z]{3,16}) (\S+) SIP\/2\.0$/.exec(startLine);
  if (!response && !request) return null;
  const fields = new Map<string, string[]>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const rawName = line.slice(0, colon).trim().toLowerCase();
    const name = compactNames[rawName] ?? rawName;
    const list = fields.get(name);
    const value = line.slice(colon + 1).trim();
    if (list) list.push(value);
    else fields.set(name, [value]);
  }
  const first = (name: string) => fields.get(name)?.[0];
  const cseq = /^(\d+)\s+([A-Z]+)/.exec(first("cseq") ?? "");
  const callId = first("call-id");
  const via = first("via");
  if (!cseq || !callId || !via) return null;
  const from = first("from") ?? "";
  const to = first("to") ?? "";
  return {
    kind: response ? "response" : "request",
    method: request ? request[1]! : cseq[2]!,
    requestUri: request ? request[2]! : "",
    status: response ? Number(response[1]) : 0,
    reason: response ? response[2]! : "",
    callId,
    cseq: Number(cseq[1]),
    viaBranch: /;\s*branch=([^;,\s]+)/i.exec(via)?.[1] ?? "",
    fromUser: userOf(from),
    fromTag: tagOf(from),
    toUser: userOf(to),
    toTag: tagOf(to),
    header: (name) => first(compactNames[name.toLowerCase()] ?? name.toLowerCase()),
    headers: (name) => fields.get(compactNames[name.toLowerCase()] ?? name.toLowerCase()) ?? [],
  };
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
