import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Grammar } from "sip.js/lib/grammar/grammar.js";
import { LoggerFactory } from "sip.js/lib/core/log/logger-factory.js";
import { DigestAuthentication } from "sip.js/lib/core/messages/digest-authentication.js";
import { OutgoingRequestMessage } from "sip.js/lib/core/messages/outgoing-request-message.js";
import { Parser } from "sip.js/lib/core/messages/parser.js";
import type { IncomingResponseMessage } from "sip.js/lib/core/messages/incoming-response-message.js";
import { createAsteriskPbx } from "../../src/engines/model/asterisk-pbx.js";
import { digestResponse, parseChallenge } from "../../src/sip/digest.js";
import { sipMethodOf } from "../../src/sip/sip-method-of.js";
import { formatRequest, parseSip } from "../../src/sip/sip-message.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const loggerFactory = new LoggerFactory();
loggerFactory.builtinEnabled = false;

const pbxSpec = { address: "198.51.100.10", port: 5060, iax2Port: 4569, tlsPort: 5061, realm: "slamlab", interface: "eth0", accounts: [{ users: "200-209", password: "pw-{user}" }] };

function register(user: string, branch: string, authorization?: string): Uint8Array {
  return formatRequest("REGISTER", "sip:198.51.100.10", [
    ["Via", `SIP/2.0/UDP 198.18.1.1:5060;branch=${branch};rport`],
    ["Max-Forwards", "70"],
    ["From", `<sip:${user}@198.51.100.10>;tag=abc123`],
    ["To", `<sip:${user}@198.51.100.10>`],
    ["Call-ID", "call-1@198.18.1.1"],
    ["CSeq", "1 REGISTER"],
    ["Contact", `<sip:${user}@198.18.1.1:5060>`],
    ["Expires", "3600"],
    ...(authorization ? ([["Authorization", authorization]] as Array<[string, string]>) : []),
  ]);
}

const from = (payload: Uint8Array) => ({ src: "198.18.1.1", sport: 5060, dst: "198.51.100.10", dport: 5060, payload });

describe("digest authentication", () => {
  it("computes RFC 2617's worked example", () => {
    const response = digestResponse({
      username: "Mufasa",
      password: "Circle Of Life",
      realm: "testrealm@host.com",
      method: "GET",
      uri: "/dir/index.html",
      nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
      qop: "auth",
      nc: "00000001",
      cnonce: "0a4f113b",
    });
    expect(response).toBe("6629fae49393a05397450978507c4ef1");
  });

  it("the PBX model accepts credentials computed by sip.js's own DigestAuthentication", () => {
    const pbx = createAsteriskPbx(pbxSpec);
    const [challenge] = pbx.receive(from(register("201", "z9hG4bK1")), 0);
    const parsed = Parser.parseMessage(decoder.decode(challenge!.datagram.payload), loggerFactory.getLogger("test")) as IncomingResponseMessage;
    expect(parsed.statusCode).toBe(401);
    const uri = Grammar.URIParse("sip:198.51.100.10")!;
    const request = new OutgoingRequestMessage("REGISTER", uri, Grammar.URIParse("sip:201@198.51.100.10")!, Grammar.URIParse("sip:201@198.51.100.10")!);
    const auth = new DigestAuthentication(loggerFactory, undefined, "201", "pw-201");
    expect(auth.authenticate(request, parsed.parseHeader("www-authenticate"))).toBe(true);
    const [answer] = pbx.receive(from(register("201", "z9hG4bK2", auth.toString())), 1000);
    expect(parseSip(answer!.datagram.payload)).toMatchObject({ kind: "response", status: 200, method: "REGISTER" });
  });
});

describe("SIP messages", () => {
  it("sip.js reads slamlab's messages the way slamlab does", () => {
    const bytes = register("200", "z9hG4bKabc");
    const ours = parseSip(bytes)!;
    const theirs = Parser.parseMessage(decoder.decode(bytes), loggerFactory.getLogger("test"))!;
    expect([ours.method, ours.callId, ours.cseq, ours.viaBranch, ours.fromTag, ours.fromUser]).toEqual([
      theirs.method,
      theirs.callId,
      theirs.cseq,
      theirs.viaBranch,
      theirs.fromTag,
      theirs.from.uri.user,
    ]);
  });

  it("reads compact header forms and ignores what is not SIP", () => {
    const compact = encoder.encode("OPTIONS sip:x SIP/2.0\r\nv: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKq\r\ni: c1\r\nf: <sip:a@b>;tag=t\r\nt: <sip:a@b>\r\nCSeq: 7 OPTIONS\r\n\r\n");
    expect(parseSip(compact)).toMatchObject({ method: "OPTIONS", callId: "c1", cseq: 7, viaBranch: "z9hG4bKq", fromTag: "t" });
    expect(parseSip(encoder.encode("GET / HTTP/1.1\r\n\r\n"))).toBeNull();
    expect(parseSip(new Uint8Array([0, 1, 2, 3]))).toBeNull();
  });

  it("reads header names in any case, a name that only looks like a known one as its own, and UTF-8 values as UTF-8", () => {
    const text =
      'REGISTER sip:x SIP/2.0\r\nVIA: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKq\r\ncAlL-iD: c1\r\nFROM: "Zoë Müller" <sip:zoe@b>;tag=t\r\nT: <sip:zoe@b>\r\ncseq: 2 REGISTER\r\n' +
      "Www-Authenticate: Digest realm=\"r\"\r\nContact_: odd\r\nX-Vía: ünïcode\r\nContent-Lengths: 9\r\n\r\n";
    const message = parseSip(encoder.encode(text))!;
    expect(message).toMatchObject({ method: "REGISTER", callId: "c1", cseq: 2, viaBranch: "z9hG4bKq", fromTag: "t", fromUser: "zoe", toUser: "zoe" });
    expect(message.header("from")).toBe('"Zoë Müller" <sip:zoe@b>;tag=t');
    expect(message.header("WWW-Authenticate")).toBe('Digest realm="r"');
    expect(message.header("x-vía")).toBe("ünïcode");
    expect(message.header("contact")).toBeUndefined();
    expect(message.header("contact_")).toBe("odd");
    expect(message.header("content-length")).toBeUndefined();
    expect(message.header("content-lengths")).toBe("9");
    // Bytes that are no UTF-8 read as the replacement character, as before.
    const latin1 = new Uint8Array([...encoder.encode("OPTIONS sip:x SIP/2.0\r\nv: SIP/2.0/UDP 1.2.3.4;branch=b\r\ni: c2\r\nCSeq: 1 OPTIONS\r\nSubject: caf"), 0xe9, 13, 10, 13, 10]);
    expect(parseSip(latin1)!.header("subject")).toBe("caf\ufffd");
  });

  it("sipMethodOf names requests by method and responses by status", () => {
    expect(sipMethodOf(encoder.encode("REGISTER sip:x SIP/2.0\r\n"))).toBe("REGISTER");
    expect(sipMethodOf(encoder.encode("SIP/2.0 401 Unauthorized\r\n"))).toBe("401");
    expect(sipMethodOf(encoder.encode("\u0000\u0001binary"))).toBeNull();
    expect(sipMethodOf(encoder.encode("register sip:x SIP/2.0"))).toBeNull();
    // A request is its request line: HTTP and other upper-case words followed by a space are not SIP.
    expect(sipMethodOf(encoder.encode("OPTIONS sip:100@198.51.100.10 SIP/2.0"))).toBe("OPTIONS");
    expect(sipMethodOf(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))).toBeNull();
    expect(sipMethodOf(encoder.encode("POST /cgi-bin/luci HTTP/1.0\r\n"))).toBeNull();
    expect(sipMethodOf(encoder.encode("GET http://198.51.100.10/ HTTP/1.1\r\n"))).toBeNull();
    expect(sipMethodOf(encoder.encode("HELLO WORLD\r\n"))).toBeNull();
    expect(sipMethodOf(encoder.encode("REGISTER sip:x SIP/2.0X\r\n"))).toBeNull();
    expect(sipMethodOf(encoder.encode("REGISTER nouri SIP/2.0\r\n"))).toBeNull();
  });
});

describe("the Asterisk PJSIP model", () => {
  const challengeOf = (payload: Uint8Array) => parseChallenge(parseSip(payload)!.header("www-authenticate")!)!;

  it("challenges a REGISTER without credentials with an MD5 qop=auth digest, answering to the source port (rport)", () => {
    const pbx = createAsteriskPbx(pbxSpec);
    const [reply] = pbx.receive(from(register("200", "z9hG4bK1")), 0);
    expect(reply!.datagram).toMatchObject({ dst: "198.18.1.1", dport: 5060, src: "198.51.100.10", sport: 5060 });
    const message = parseSip(reply!.datagram.payload)!;
    expect(message.status).toBe(401);
    expect(message.header("via")).toBe("SIP/2.0/UDP 198.18.1.1:5060;rport=5060;received=198.18.1.1;branch=z9hG4bK1");
    expect(message.toTag).toBe("z9hG4bK1");
    expect(challengeOf(reply!.datagram.payload)).toMatchObject({ realm: "slamlab", algorithm: "MD5", qop: "auth" });
  });

  it("answers a wrong password and an unknown user with the same 401, so scanners learn nothing", () => {
    const pbx = createAsteriskPbx(pbxSpec);
    const answerWith = (user: string, password: string, at: number) => {
      const [first] = pbx.receive(from(register(user, `z9hG4bKa${at}`)), at);
      const challenge = challengeOf(first!.datagram.payload);
      const response = digestResponse({ username: user, password, realm: "slamlab", method: "REGISTER", uri: "sip:198.51.100.10", nonce: challenge.nonce, qop: "auth", nc: "00000001", cnonce: "c" });
      const authorization = `Digest username="${user}", realm="slamlab", nonce="${challenge.nonce}", uri="sip:198.51.100.10", response="${response}", algorithm=MD5, cnonce="c", qop=auth, nc=00000001`;
      const [second] = pbx.receive(from(register(user, `z9hG4bKb${at}`, authorization)), at + 1000);
      return parseSip(second!.datagram.payload)!;
    };
    const wrongPassword = answerWith("200", "guess", 0);
    const unknownUser = answerWith("999", "guess", 10_000);
    const right = answerWith("200", "pw-200", 20_000);
    expect([wrongPassword.status, unknownUser.status, right.status]).toEqual([401, 401, 200]);
    expect(wrongPassword.reason).toBe(unknownUser.reason);
    expect(right.header("contact")).toMatch(/;expires=3599$/);
    expect(pbx.registrations(30_000).map((registration) => registration.account)).toEqual(["200"]);
  });

  it("says stale=true for credentials on a nonce older than 32 s", () => {
    const pbx = createAsteriskPbx(pbxSpec);
    const [first] = pbx.receive(from(register("200", "z9hG4bK1")), 0);
    const challenge = challengeOf(first!.datagram.payload);
    const response = digestResponse({ username: "200", password: "pw-200", realm: "slamlab", method: "REGISTER", uri: "sip:198.51.100.10", nonce: challenge.nonce });
    const authorization = `Digest username="200", realm="slamlab", nonce="${challenge.nonce}", uri="sip:198.51.100.10", response="${response}", algorithm=MD5`;
    const [late] = pbx.receive(from(register("200", "z9hG4bK2", authorization)), 33_000_000);
    expect(challengeOf(late!.datagram.payload).stale).toBe(true);
  });

  it("answers OPTIONS without a challenge, and never answers a response", () => {
    const pbx = createAsteriskPbx(pbxSpec);
    const options = formatRequest("OPTIONS", "sip:198.51.100.10", [
      ["Via", "SIP/2.0/UDP 198.18.1.1:5060;branch=z9hG4bKo"],
      ["From", "<sip:scan@198.18.1.1>;tag=1"],
      ["To", "<sip:198.51.100.10>"],
      ["Call-ID", "o1"],
      ["CSeq", "1 OPTIONS"],
    ]);
    expect(parseSip(pbx.receive(from(options), 0)[0]!.datagram.payload)!.status).toBe(200);
    expect(pbx.receive(from(encoder.encode("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP x;branch=z9hG4bKx\r\nCall-ID: a\r\nCSeq: 1 NOTIFY\r\n\r\n")), 0)).toEqual([]);
  });
});

/** The parser's rule written plainly: the head up to the first empty line, lines split at CRLF, names trimmed and lower-cased, values trimmed. */
function referenceParse(text: string) {
  const headEnd = text.indexOf("\r\n\r\n");
  const [startLine = "", ...lines] = (headEnd < 0 ? text : text.slice(0, headEnd)).split("\r\n");
  const response = /^SIP\/2\.0 ([1-6]\d\d) ?(.*)$/.exec(startLine);
  const request = response ? null : /^([A-Z]{3,16}) (\S+) SIP\/2\.0$/.exec(startLine);
  if (!response && !request) return null;
  const compact: Record<string, string> = { v: "via", f: "from", t: "to", i: "call-id", m: "contact", l: "content-length", c: "content-type", k: "supported", o: "event" };
  const fields: Array<[string, string]> = [];
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    fields.push([compact[name] ?? name, line.slice(colon + 1).trim()]);
  }
  const first = (name: string) => fields.find(([field]) => field === name)?.[1];
  const cseq = /^(\d+)\s+([A-Z]+)/.exec(first("cseq") ?? "");
  if (!cseq || first("call-id") === undefined || first("via") === undefined) return null;
  return {
    kind: response ? "response" : "request",
    method: request ? request[1] : cseq[2],
    requestUri: request ? request[2] : "",
    status: response ? Number(response[1]) : 0,
    reason: response ? response[2] : "",
    callId: first("call-id"),
    cseq: Number(cseq[1]),
    viaBranch: /;\s*branch=([^;,\s]+)/i.exec(first("via")!)?.[1] ?? "",
    headers: Object.fromEntries(["via", "from", "to", "contact", "x-a", "cseq", "call-id", ""].map((name) => [name, fields.filter(([field]) => field === name).map(([, value]) => value)])),
  };
}

describe("parseSip against the plain rule", () => {
  it("reads any head of CRLF lines, bare LFs, blank and colon-less lines, spaces and cases as the plain rule does", () => {
    const piece = fc.constantFrom("REGISTER sip:a@b SIP/2.0", "SIP/2.0 401 Unauthorized", "SIP/2.0 200", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "v:x;BRANCH=b2", "CSeq: 3 REGISTER", "cseq:12  OPTIONS", "CSeq: x", "Call-ID: c@d", "i: q", "From: <sip:u@h>;tag=1", "To : <sip:v@h>", "X-A: 1", "x-a:2", ": empty", "  : blank name", "no colon", "", " ", "\t", "a\nb", "\r", "Contact:  <sip:u@h>  ", "Content-Length: 0",
"Content-Length: 0");
    const separator = fc.constantFrom("\r\n", "\r\n", "\r\n", "\n", "\r", "\r\n\r\n");
    fc.assert(
      fc.property(fc.array(fc.tuple(piece, separator), { maxLength: 14 }), (parts) => {
        const text = parts.map(([line, end]) => line + end).join("");
        const parsed = parseSip(new TextEncoder().encode(text));
        const expected = referenceParse(text);
        if (!expected) {
          expect(parsed).toBeNull();
          return;
        }
        const { headers, ...fields } = expected;
        expect(parsed).toMatchObject(fields);
        for (const [name, values] of Object.entries(headers)) expect(parsed!.headers(name), name).toEqual(values);
      }),
      { numRuns: 3000 },
    );
  });

  it("reads start lines and Via branches at the edges of the rule's expressions as the rule does", () => {
    const startLines = [
      "SIP/2.0 401 Unauthorized", "SIP/2.0 4011", "SIP/2.0 700 Nope", "SIP/2.0 099 x", "SIP/2.0 183 Session Progress ", "SIP/2.0 200 O\u2028K", "SIP/2.0 20", "SIP/2.0  200 OK", "SIP/2.0 200",
      "REGISTER sip:a@b SIP/2.0", "REGISTER  sip:a@b SIP/2.0", "ABCDEFGHIJKLMNOPQ sip:a SIP/2.0", "ABCDEFGHIJKLMNOP sip:a SIP/2.0", "ABC sip:a SIP/2.0", "AB sip:a SIP/2.0",
      "INVITE sip:a\u00a0b SIP/2.0", "REGISTER sip:a SIP/2.0 ", "REGISTER SIP/2.0", "REGISTER  SIP/2.0", "Register sip:a SIP/2.0", "REGISTER sip:a SIP/2.00",
    ];
    const vias = ["SIP/2.0/UDP h;branch=z9hG4bK1", "SIP/2.0/UDP h; branch=;Branch=z9,x", "a;branch =x;  bRanch=ok ", "a;branch=\u00a0;branch=two", "a;branchx=1;branch=2", "a;BRANCH=b2;branch=b3", "a;branch=", "a;rport;branch=q\tz", "a"];
    let parsedCount = 0;
    for (const startLine of startLines) {
      for (const via of vias) {
        const text = `${startLine}\r\nVia: ${via}\r\nCall-ID: c@d\r\nCSeq: 7 REGISTER\r\n\r\n`;
        const parsed = parseSip(new TextEncoder().encode(text));
        const expected = referenceParse(text);
        if (!expected) {
          expect(parsed, text).toBeNull();
          continue;
        }
        parsedCount++;
        const { headers: _headers, ...fields } = expected;
        expect(parsed, text).toMatchObject(fields);
      }
    }
    // Both kinds of line were read, not only refused.
    expect(parsedCount).toBeGreaterThan(6 * vias.length);
  });
});
