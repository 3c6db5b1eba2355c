import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeFrame, type DecodedPacket } from "../../../src/capture/decode-frame.js";
import { openCapture } from "../../../src/capture/read-capture.js";
import { createAsteriskPbx } from "../../../src/engines/model/asterisk-pbx.js";
import { answerChallenge, formatCredentials, parseChallenge } from "../../../src/sip/digest.js";
import { parseSip } from "../../../src/sip/sip-message.js";

const recorded = join(import.meta.dirname, "..", "..", "..", "captures", "lab-sipp-register.pcap");

async function packetsOf(path: string): Promise<DecodedPacket[]> {
  const packets: DecodedPacket[] = [];
  for await (const frame of await openCapture(path)) packets.push(decodeFrame({ ...frame, data: frame.data.slice() }) as DecodedPacket);
  return packets;
}

const text = (packet: DecodedPacket) => new TextDecoder().decode(packet.payload);
const headerNames = (message: string) => message.split("\r\n").slice(1).filter(Boolean).map((line) => line.slice(0, line.indexOf(":")));

/**
 * captures/lab-sipp-register.pcap is SIPp registering against real Asterisk 22
 * (captures/record/). The model gets the same requests and must answer with
 * the same shape: headers in the same order, the same Via and To rewriting.
 */
describe("the PBX model answers like the recorded Asterisk 22", () => {
  it("challenge and 200 OK match the recording line by line, apart from nonces, tags and dates", async () => {
    const [register, challenge, authorised, ok] = await packetsOf(recorded);
    const pbx = createAsteriskPbx({ address: register!.dst, port: 5060, iax2Port: 4569, tlsPort: 5061, realm: "asterisk", interface: "eth0", accounts: [{ users: "200-209", password: "lab-{user}-Secret" }] });
    const datagram = (packet: DecodedPacket) => ({ src: packet.src, sport: packet.sport, dst: packet.dst, dport: packet.dport, payload: packet.payload });
    const modelChallenge = new TextDecoder().decode(pbx.receive(datagram(register!), 0)[0]!.datagram.payload);
    const real = text(challenge!);
    expect(headerNames(modelChallenge)).toEqual(headerNames(real));
    expect(modelChallenge.split("\r\n")[0]).toBe(real.split("\r\n")[0]);
    for (const header of ["via", "to", "from", "call-id", "cseq", "server"]) {
      expect(parseSip(new TextEncoder().encode(modelChallenge))!.header(header)).toBe(parseSip(challenge!.payload)!.header(header));
    }
    const shape = (value: string) => value.replace(/nonce="\d+\/[0-9a-f]{32}"/, 'nonce="N"').replace(/opaque="[0-9a-f]{16}"/, 'opaque="O"');
    expect(shape(parseSip(new TextEncoder().encode(modelChallenge))!.header("www-authenticate")!)).toBe(shape(parseSip(challenge!.payload)!.header("www-authenticate")!));
    expect(modelChallenge).toContain("\r\nContent-Length:  0\r\n\r\n");

    // SIPp's credentials answer the real Asterisk's nonce, which the model did not issue: it challenges again.
    const again = parseSip(pbx.receive(datagram(authorised!), 5000)[0]!.datagram.payload)!;
    expect(again.status).toBe(401);

    // The same REGISTER answering the model's own nonce gets a 200 shaped like the recorded one.
    const nonce = parseChallenge(parseSip(new TextEncoder().encode(modelChallenge))!.header("www-authenticate")!)!.nonce;
    const authorization = formatCredentials(answerChallenge({ realm: "asterisk", nonce, qop: "auth", opaque: "x" }, { username: "200", password: "lab-200-Secret", method: "REGISTER", uri: `sip:${register!.dst}`, cnonce: "c", nc: 1 }));
    const withModelNonce = text(authorised!).replace(/^Authorization: .*$/m, `Authorization: ${authorization}`);
    const modelOk = new TextDecoder().decode(pbx.receive({ ...datagram(authorised!), payload: new TextEncoder().encode(withModelNonce) }, 6000)[0]!.datagram.payload);
    expect(modelOk.split("\r\n")[0]).toBe("SIP/2.0 200 OK");
    expect(headerNames(modelOk)).toEqual(headerNames(text(ok!)));
    expect(parseSip(new TextEncoder().encode(modelOk))!.header("contact")).toBe(parseSip(ok!.payload)!.header("contact"));
  });
});
