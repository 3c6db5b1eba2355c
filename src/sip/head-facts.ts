/**
 * What `capture inspect` counts of a SIP message's head, read from its bytes:
 * the first User-Agent or Server header's value and whether it carries
 * credentials (Authorization or Proxy-Authorization). It runs once per
 * request in a capture of millions, so it compares bytes in place, stops at
 * the blank line that ends the head (a body's text is not a header) and
 * turns into text only the value it keeps.
 */
export interface HeadFacts {
  /** The value, trimmed; null when no such header, "" when it is empty. */
  readonly agent: string | null;
  readonly credentials: boolean;
}

/** The most of a message looked at: a head longer than this is not one a phone or scanner sends. */
const HEAD_LIMIT = 4096;

const lower = (name: string) => Uint8Array.from(name, (char) => char.charCodeAt(0));
const USER_AGENT = lower("user-agent");
const SERVER = lower("server");
const AUTHORIZATION = lower("authorization");
const PROXY_AUTHORIZATION = lower("proxy-authorization");

const decoder = new TextDecoder();

/**
 * `into`: a record to fill and return, for a caller that reads millions of
 * heads and keeps neither (one record for all, instead of one made a head).
 */
export function headFacts(message: Uint8Array, into: { agent: string | null; credentials: boolean } = { agent: null, credentials: false }): HeadFacts {
  const end = Math.min(message.length, HEAD_LIMIT);
  let agent: string | null = null;
  let credentials = false;
  let at = 0;
  while (at < end) {
    let lineEnd = at;
    while (lineEnd < end && message[lineEnd] !== 0x0d && message[lineEnd] !== 0x0a) lineEnd++;
    // The blank line after the start line's headers: the body follows.
    if (lineEnd === at && at > 0) break;
    if (agent === null) {
      const value = valueAfter(message, at, lineEnd, USER_AGENT) ?? valueAfter(message, at, lineEnd, SERVER);
      if (value !== null) agent = decoder.decode(message.subarray(value, lineEnd)).trim();
    }
    if (!credentials) credentials = valueAfter(message, at, lineEnd, AUTHORIZATION) !== null || valueAfter(message, at, lineEnd, PROXY_AUTHORIZATION) !== null;
    // CRLF, a lone LF or a lone CR ends a line.
    at = lineEnd + (message[lineEnd] === 0x0d && message[lineEnd + 1] === 0x0a ? 2 : 1);
  }
  into.agent = agent;
  into.credentials = credentials;
  return into;
}

/** Where the value starts when the line is the header `name` (any case, RFC 3261's HCOLON: blanks, a colon, blanks); null otherwise. */
function valueAfter(message: Uint8Array, start: number, end: number, name: Uint8Array): number | null {
  if (end - start <= name.length) return null;
  for (let i = 0; i < name.length; i++) {
    const byte = message[start + i]!;
    if ((byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte) !== name[i]) return null;
  }
  let at = start + name.length;
  while (at < end && (message[at] === 0x20 || message[at] === 0x09)) at++;
  if (message[at] !== 0x3a) return null;
  at++;
  while (at < end && (message[at] === 0x20 || message[at] === 0x09)) at++;
  return at;
}
