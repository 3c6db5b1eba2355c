import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeIpv4Udp, internetChecksum } from "../../src/net/ipv4.js";

/** RFC 1071's sum as the RFC writes it: a 16-bit word at a time, carries folded at the end. */
function rfc1071(bytes: Uint8Array, start: number, length: number, initial: number): number {
  let sum = initial;
  const end = start + length;
  // An odd length is padded with a zero byte, as is any byte past the array's end.
  for (let i = start; i < end; i += 2) sum += ((bytes[i] ?? 0) << 8) | (i + 1 < end ? (bytes[i + 1] ?? 0) : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

describe("the Internet checksum", () => {
  it("sums as RFC 1071 does at any offset and length, odd ones and views into a larger buffer included", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1600 }), fc.nat(), fc.nat(), fc.nat({ max: 6 * 0xffff }), fc.nat({ max: 7 }), (content, startSeed, lengthSeed, initial, viewOffset) => {
        const backing = new Uint8Array(content.length + viewOffset);
        backing.set(content, viewOffset);
        const bytes = backing.subarray(viewOffset);
        const start = content.length === 0 ? 0 : startSeed % content.length;
        const length = (lengthSeed % (content.length - start + 1)) | 0;
        expect(internetChecksum(bytes, start, length, initial)).toBe(rfc1071(bytes, start, length, initial));
      }),
      { numRuns: 2000 },
    );
  });

  it("counts bytes a truncated datagram claims but lacks as zeros, as before", () => {
    const bytes = Uint8Array.of(0x12, 0x34, 0x56);
    expect(internetChecksum(bytes, 0, 8)).toBe(rfc1071(bytes, 0, 3, 0));
  });

  it("makes datagrams whose headers and UDP payload verify to zero, as a receiver checks them", () => {
    const payload = new TextEncoder().encode("REGISTER sip:198.51.100.10 SIP/2.0\r\n\r\n!");
    const datagram = encodeIpv4Udp({ src: 0xc6120001, dst: 0xc633640a, sport: 5060, dport: 5060, payload });
    expect(internetChecksum(datagram, 0, 20)).toBe(0);
    const udpLength = 8 + payload.length;
    const pseudo = 0xc612 + 0x0001 + 0xc633 + 0x640a + 17 + udpLength;
    expect(internetChecksum(datagram, 20, udpLength, pseudo)).toBe(0);
  });
});
