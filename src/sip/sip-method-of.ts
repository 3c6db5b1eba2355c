/**
 * The SIP method of a UDP payload ("REGISTER"), or the status code of a
 * response ("401"), or null when the bytes are not SIP. Runs once per judged
 * packet, so it reads bytes instead of decoding text.
 */
export function sipMethodOf(payload: Uint8Array): string | null {
  if (payload.length >= 12 && startsWithSipVersion(payload) && payload[7] === 0x20) {
    const status = String.fromCharCode(payload[8]!, payload[9]!, payload[10]!);
    return /^[1-6]\d\d$/.test(status) ? status : null;
  }
  let end = 0;
  while (end < payload.length && end < 16 && isUpperLetter(payload[end]!)) end++;
  if (end < 3 || end >= payload.length || payload[end] !== 0x20) return null;
  return String.fromCharCode(...payload.subarray(0, end));
}

const SIP_VERSION = [0x53, 0x49, 0x50, 0x2f, 0x32, 0x2e, 0x30]; // "SIP/2.0"

function startsWithSipVersion(payload: Uint8Array): boolean {
  for (let i = 0; i < SIP_VERSION.length; i++) if (payload[i] !== SIP_VERSION[i]) return false;
  return true;
}

function isUpperLetter(byte: number): boolean {
  return byte >= 0x41 && byte <= 0x5a;
}
