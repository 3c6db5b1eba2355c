import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { headFacts } from "../../src/sip/head-facts.js";

const bytes = (text: string) => new TextEncoder().encode(text);

/** What `capture inspect` read before it scanned bytes: the head as text, two regular expressions. */
function reference(head: string): { agent: string | null; credentials: boolean } {
  return { agent: /^(?:User-Agent|Server):[ \t]*(.*)$/im.exec(head)?.[1]?.trim() ?? null, credentials: /^(?:Authorization|Proxy-Authorization):/im.test(head) };
}

describe("the User-Agent and credentials of a SIP head", () => {
  it("finds the first User-Agent or Server, in any case, and Authorization or Proxy-Authorization", () => {
    expect(headFacts(bytes("REGISTER sip:pbx SIP/2.0\r\nVia: x\r\nuser-agent:  friendly-scanner \r\nServer: other\r\n\r\n"))).toEqual({ agent: "friendly-scanner", credentials: false });
    expect(headFacts(bytes("SIP/2.0 200 OK\r\nSERVER: Asterisk PBX 22\r\n\r\n"))).toEqual({ agent: "Asterisk PBX 22", credentials: false });
    expect(headFacts(bytes('REGISTER sip:pbx SIP/2.0\r\nProxy-Authorization: Digest username="100"\r\n\r\n'))).toEqual({ agent: null, credentials: true });
    expect(headFacts(bytes("REGISTER sip:pbx SIP/2.0\nAuthorization: Digest\nUser-Agent: pplsip\n\n"))).toEqual({ agent: "pplsip", credentials: true });
  });

  it("takes blanks before the colon, as RFC 3261's HCOLON allows, and UTF-8 in the value", () => {
    expect(headFacts(bytes("OPTIONS sip:pbx SIP/2.0\r\nUser-Agent\t : Téléphone 3\r\n\r\n")).agent).toBe("Téléphone 3");
  });

  it("reads only the head: a header's name in the body is not a header", () => {
    const message = "MESSAGE sip:100@pbx SIP/2.0\r\nContent-Type: text/plain\r\n\r\nUser-Agent: in the body\r\nAuthorization: also the body\r\n";
    expect(headFacts(bytes(message))).toEqual({ agent: null, credentials: false });
  });

  it("agrees with the text reading on any head of header lines", () => {
    const name = fc.constantFrom("User-Agent", "user-agent", "Server", "SERVER", "Authorization", "Proxy-Authorization", "proxy-authorization", "User-Agents", "Via", "From", "Agent", "Serve");
    const value = fc.string({ maxLength: 12 }).map((text) => text.replace(/[\r\n\u2028\u2029]/g, ""));
    const line = fc.tuple(name, fc.constantFrom(":", ": ", ":\t", ":  "), value).map(([field, colon, text]) => `${field}${colon}${text}`);
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), fc.constantFrom("\r\n", "\n"), (lines, newline) => {
        const head = ["REGISTER sip:pbx SIP/2.0", ...lines].join(newline);
        expect(headFacts(bytes(`${head}${newline}${newline}`))).toEqual(reference(head));
      }),
    );
  });
});
