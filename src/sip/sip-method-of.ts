/**
 * The SIP method of a UDP payload ("REGISTER"), or the status code of a
 * response ("401"), or null when the bytes are not SIP. A request is told by
 * its request line as RFC 3261 writes it (Method SP Request-URI SP SIP/2.0,
 * the URI with a scheme), so HTTP's "GET / HTTP/1.1" is not SIP. Runs once
 * per judged or decoded packet, so it reads bytes and reuses the strings it
 * made before.
 */
export function sipMethodOf(payload: Uint8Array): string | null {
  if (payload.length >= 12 && startsWithSipVersion(payload) && payload[7] === 0x20) {
    const hundreds = payload[8]! - 0x30;
    const tens = payload[9]! - 0x30;
    const units = payload[10]! - 0x30;
    if (hundreds < 1 || hundreds > 6 || tens < 0 || tens > 9 || units < 0 || units > 9) return null;
    return statusText(hundreds * 100 + tens * 10 + units);
  }
  let end = 0;
  let hash = 0;
  while (end < payload.length && end < 16) {
    const byte = payload[end]!;
    if (byte < 0x41 || byte > 0x5a) break;
    hash = (Math.imul(hash, 31) + byte) | 0;
    end++;
  }
  if (end < 3 || end >= payload.length || payload[end] !== 0x20 || !endsAsRequestLine(payload, end + 1)) return null;
  const key = hash * 32 + end;
  const known = methodCache.get(key);
  if (known !== undefined && sameBytes(known, payload)) return known;
  const method = String.fromCharCode(...payload.subarray(0, end));
  if (methodCache.size < 4096) methodCache.set(key, method);
  return method;
}

const methodCache = new Map<number, string>();
const statusCache: string[] = [];

function statusText(code: number): string {
  return (statusCache[code] ??= String(code));
}

function sameBytes(text: string, payload: Uint8Array): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== payload[i]) return false;
  return true;
}

const SIP_VERSION = [0x53, 0x49, 0x50, 0x2f, 0x32, 0x2e, 0x30]; // "SIP/2.0"

function startsWithSipVersion(payload: Uint8Array): boolean {
  for (let i = 0; i < SIP_VERSION.length; i++) if (payload[i] !== SIP_VERSION[i]) return false;
  return true;
}

/** The longest Request-URI looked at: past it, the line is not a request line slamlab can use. */
const MAX_URI = 2048;

/** From the Request-URI on: a URI with a scheme (no spaces), one space, "SIP/2.0", then the line's end or the payload's. */
function endsAsRequestLine(payload: Uint8Array, uriStart: number): boolean {
  let index = uriStart;
  let scheme = false;
  const limit = Math.min(payload.length, uriStart + MAX_URI);
  for (; index < limit; index++) {
    const byte = payload[index]!;
    if (byte === 0x20) break;
    if (byte === 0x0d || byte === 0x0a) return false;
    if (byte === 0x3a) scheme = true;
  }
  if (index === uriStart || !scheme || payload[index] !== 0x20) return false;
  index++;
  for (let i = 0; i < SIP_VERSION.length; i++) if (payload[index + i] !== SIP_VERSION[i]) return false;
  const after = payload[index + SIP_VERSION.length];
  return after === undefined || after === 0x0d || after === 0x0a;
}
