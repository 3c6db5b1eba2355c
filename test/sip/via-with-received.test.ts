import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { viaWithReceived } from "../../src/sip/sip-message.js";

/** The rule as RFC 3581 and PJSIP state it, written plainly: rport filled in, received added, any old ones dropped. */
function reference(via: string, sourceAddress: string, sourcePort: number): string {
  const [sentBy, ...parameters] = via.split(";").map((part) => part.trim());
  const hadRport = parameters.some((parameter) => /^rport(=|$)/i.test(parameter));
  const rest = parameters.filter((parameter) => !/^(rport|received)(=|$)/i.test(parameter));
  return [sentBy, ...(hadRport ? [`rport=${sourcePort}`] : []), `received=${sourceAddress}`, ...rest].join(";");
}

describe("the Via a PBX answers with", () => {
  it("fills rport with the source port and adds received, keeping the other parameters in order", () => {
    expect(viaWithReceived("SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK-1;rport", "198.18.0.1", 40000)).toBe("SIP/2.0/UDP 10.0.0.2:5060;rport=40000;received=198.18.0.1;branch=z9hG4bK-1");
    expect(viaWithReceived("SIP/2.0/UDP 10.0.0.2:5060 ; received=1.2.3.4 ;branch=z9hG4bK-2", "198.18.0.1", 5060)).toBe("SIP/2.0/UDP 10.0.0.2:5060;received=198.18.0.1;branch=z9hG4bK-2");
  });

  it("treats any parameter list as the plain rule does (names in any case, with or without values)", () => {
    const parameter = fc.tuple(fc.constantFrom("rport", "RPort", "received", "Received", "branch", "rportx", "receivedy", "ttl", " rport ", "x"), fc.option(fc.string({ maxLength: 6 }).map((text) => text.replaceAll(";", "")))).map(([name, value]) => (value === null ? name : `${name}=${value}`));
    fc.assert(
      fc.property(fc.array(parameter, { maxLength: 6 }), fc.nat({ max: 65535 }), (parameters, port) => {
        const via = ["SIP/2.0/UDP 192.0.2.7:5060 ", ...parameters].join(";");
        expect(viaWithReceived(via, "198.18.0.1", port)).toBe(reference(via, "198.18.0.1", port));
      }),
      { numRuns: 1000 },
    );
  });
});
