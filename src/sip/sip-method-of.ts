/**
 * The SIP method of a UDP payload ("REGISTER"), or the status code of a
 * response ("401"), or null when the bytes are not SIP. Runs once per judged
 * or decoded packet, so it reads bytes and reuses the strings it made before.
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
  if (end < 3 || end >= payload.length || payload[end] !== 0x20) return null;
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
