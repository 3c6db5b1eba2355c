import { describe, expect, it } from "vitest";
import { SipStreamFramer } from "../../src/sip/sip-stream.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (message: Uint8Array) => new TextDecoder().decode(message);

const REGISTER = "REGISTER sip:198.51.100.10 SIP/2.0\r\nCall-ID: a\r\nContent-Length: 0\r\n\r\n";
const MESSAGE = "MESSAGE sip:200@198.51.100.10 SIP/2.0\r\nCall-ID: b\r\nl: 5\r\n\r\nhello";

describe("SIP over a stream", () => {
  it("gives a message split across segments once its last byte has come", () => {
    const framer = new SipStreamFramer();
    expect(framer.push(bytes(REGISTER.slice(0, 4)))).toEqual([]);
    expect(framer.push(bytes(REGISTER.slice(4, 40)))).toEqual([]);
    expect(framer.push(bytes(REGISTER.slice(40))).map(text)).toEqual([REGISTER]);
    expect(framer.pending).toBe(0);
  });

  it("gives every message of a segment that carries several, bodies by Content-Length (or l:)", () => {
    const framer = new SipStreamFramer();
    expect(framer.push(bytes(REGISTER + MESSAGE + REGISTER.slice(0, 10))).map(text)).toEqual([REGISTER, MESSAGE]);
    expect(framer.pending).toBe(10);
  });

  it("waits for a body that has not all come, and skips CRLF keepalives between messages", () => {
    const framer = new SipStreamFramer();
    expect(framer.push(bytes(`\r\n\r\n${MESSAGE.slice(0, -2)}`))).toEqual([]);
    expect(framer.push(bytes(`${MESSAGE.slice(-2)}\r\n\r\n`)).map(text)).toEqual([MESSAGE]);
  });
});
