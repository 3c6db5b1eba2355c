import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { forEachSipRequest, inspectCapture, RegistersInWindow } from "../../src/capture/inspect-capture.js";
import { pcapFile } from "../../src/capture/pcap-writer.js";
import { ethernet, ipv4, sipDatagram, tcpSegment, writeTemp } from "../helpers/capture-files.js";

describe("capture inspect", () => {
  it("counts SIP by its request line, not every upper-case word: HTTP in a honeypot capture is not SIP", async () => {
    const texts = [
      "REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: 198.51.100.10\r\n\r\n",
      "OPTIONS sip:100@198.51.100.10 SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n",
      "POST /cgi-bin/luci HTTP/1.0\r\n\r\n",
      "GET http://198.51.100.10/ HTTP/1.1\r\n\r\n",
      "SIP/2.0 401 Unauthorized\r\nCSeq: 1 REGISTER\r\n\r\n",
    ];
    const records = texts.map((text, index) => ({ timestampNs: 1_700_000_000_000_000_000n + BigInt(index) * 1_000_000n, data: ethernet(sipDatagram(`198.18.0.${index + 1}`, text)) }));
    const summary = await inspectCapture(writeTemp(pcapFile(1, records)));
    expect(summary.requests).toEqual({ REGISTER: 1, OPTIONS: 1 });
  });

  it("counts a SIP message over TCP once, however often its segment is retransmitted; the firewall still judges each", async () => {
    const encoder = new TextEncoder();
    const first = encoder.encode("REGISTER sip:198.51.100.10;transport=tcp SIP/2.0\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n");
    const second = encoder.encode("REGISTER sip:198.51.100.10;transport=tcp SIP/2.0\r\nCSeq: 2 REGISTER\r\nContent-Length: 0\r\n\r\n");
    const segment = (seq: number, payload: Uint8Array) => ethernet(ipv4(6, "198.18.7.7", "198.51.100.10", tcpSegment(40000, 5060, seq, payload)));
    const seq = 0xfffffff0; // the stream's sequence numbers wrap past 2^32 between the two messages
    const records = [segment(seq, first), segment(seq, first), segment(seq + first.length, second), segment(seq, first)].map((data, index) => ({ timestampNs: 1_700_000_000_000_000_000n + BigInt(index) * 200_000_000n, data }));
    const path = writeTemp(pcapFile(1, records));
    const summary = await inspectCapture(path);
    expect(summary.requests).toEqual({ REGISTER: 2 });
    expect(summary.tcpRetransmissions).toBe(2);
    expect(summary.sources[0]).toMatchObject({ address: "198.18.7.7", requests: 2 });
    const judged: string[] = [];
    await forEachSipRequest(path, {}, (request) => judged.push(`${request.method} ${request.timestampNs}`));
    expect(judged).toHaveLength(4);
  });
});

describe("SIP over TCP, counted by message as a registrar reads the stream", () => {
  const encoder = new TextEncoder();
  const register = (cseq: number) => `REGISTER sip:198.51.100.10;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 198.18.7.7:40000;branch=z9hG4bK${cseq}\r\nCall-ID: c@x\r\nCSeq: ${cseq} REGISTER\r\nUser-Agent: split-test\r\nContent-Length: 0\r\n\r\n`;
  const body = "v=0\r\no=- 1 1 IN IP4 198.18.7.7\r\ns=-\r\nc=IN IP4 198.18.7.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
  const invite = `INVITE sip:250@198.51.100.10;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 198.18.7.7:40000;branch=z9hG4bKi\r\nCall-ID: i@x\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const base = 1_000_000;
  /** One stream's bytes (with or without a CRLF keepalive between messages), cut into segments the way a sender, or a tool dodging a string match, may cut them. */
  const cutStream = (keepalive: boolean) => {
    const text = register(1) + register(2) + register(3) + (keepalive ? "\r\n\r\n" : "") + invite + register(4) + register(5);
    const stream = encoder.encode(text);
    const at3 = text.indexOf("REGISTER", text.indexOf("CSeq: 2"));
    const inviteAt = text.indexOf("INVITE sip:");
    const at4 = text.indexOf("REGISTER", text.indexOf("CSeq: 1 INVITE"));
    const at5 = text.indexOf("REGISTER", text.indexOf("CSeq: 4"));
    const inOrder = [
      [0, at3], // two whole messages in one segment
      [at3, at3 + 4], // "REGI": the request line itself split
      [at3 + 4, inviteAt + 30], // the rest (and the keepalive), and the INVITE's head begun
      [inviteAt + 30, at4 - 20], // the INVITE's body, all but its end
      [at3, at3 + 4], // a retransmission
      [at4 - 20, at5 + 10], // ends the INVITE, carries message 4 and begins 5
      [at5 + 10, stream.length],
    ] as const;
    // A segment that repeats the end of what the stream carried and goes on: the receiver (Linux's tcp_data_queue) keeps its new bytes.
    const overlapping = inOrder.map(([from, to]) => (from === at4 - 20 ? ([at4 - 40, to] as const) : ([from, to] as const)));
    const captureOf = (cuts: ReadonlyArray<readonly [number, number]>) => {
      const frames = cuts.map(([from, to], index) => ({
        timestampNs: 1_700_000_000_000_000_000n + BigInt(index) * 10_000_000n,
        data: ethernet(ipv4(6, "198.18.7.7", "198.51.100.10", tcpSegment(40000, 5060, base + from, stream.subarray(from, to)))),
      }));
      const http = ethernet(ipv4(6, "198.18.9.9", "198.51.100.10", tcpSegment(41000, 80, 5, encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))));
      return writeTemp(pcapFile(1, [...frames, { timestampNs: 1_700_000_001_000_000_000n, data: http }]));
    };
    // Two segments swapped on the way (a reordering); the request line's segment lost with its retransmission.
    const reordered = [inOrder[0], inOrder[1], inOrder[3], inOrder[2], ...inOrder.slice(4)];
    const lost = inOrder.filter(([from, to]) => !(from === at3 && to === at3 + 4));
    return { inOrder: captureOf(inOrder), overlapping: captureOf(overlapping), reordered: captureOf(reordered), lost: captureOf(lost) };
  };

  it("several messages in a segment count each, a message split across segments (its request line too) counts once, a retransmission or overlap adds nothing", async () => {
    for (const path of [cutStream(false).inOrder, cutStream(true).inOrder, cutStream(false).overlapping, cutStream(true).overlapping]) {
      const summary = await inspectCapture(path);
      expect(summary.requests).toEqual({ REGISTER: 5, INVITE: 1 });
      expect(summary.userAgents).toEqual({ "split-test": 5 });
      expect(summary.tcpRetransmissions).toBe(1);
      expect(summary.sources).toMatchObject([{ address: "198.18.7.7", registers: 5, requests: 6 }]);
    }
  });

  it("a segment that comes ahead of its turn waits for the gap to fill; a gap never filled loses only the message it cut", async () => {
    for (const keepalive of [false, true]) {
      const reordered = await inspectCapture(cutStream(keepalive).reordered);
      expect(reordered.requests).toEqual({ REGISTER: 5, INVITE: 1 });
      expect(reordered.tcpRetransmissions).toBe(1);
      const lost = await inspectCapture(cutStream(keepalive).lost);
      expect(lost.requests).toEqual({ REGISTER: 4, INVITE: 1 });
      expect(lost.sources).toMatchObject([{ address: "198.18.7.7", registers: 4, requests: 5 }]);
    }
  });

  // tshark drops the new bytes of a segment that overlaps what its stream carried, and loses its way after a keepalive, so it judges the plain cut.
  it("agrees with tshark's own reassembly of the same capture", async (context) => {
    for (const path of [cutStream(false).inOrder, cutStream(false).reordered]) {
      let fields: string;
      try {
        fields = execFileSync("tshark", ["-r", path, "-o", "tcp.analyze_sequence_numbers:TRUE", "-o", "tcp.reassemble_out_of_order:TRUE", "-Y", "sip.Method", "-T", "fields", "-e", "sip.Method"], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "ignore"],
        });
      } catch {
        console.log("skipped: tshark is not installed (apt-get install tshark)");
        context.skip();
        return;
      }
      const methods = fields.split(/[\n,]/).filter(Boolean);
      const counted: Record<string, number> = {};
      for (const method of methods) counted[method] = (counted[method] ?? 0) + 1;
      expect((await inspectCapture(path)).requests).toEqual(counted);
    }
  });
});

describe("a source's peak REGISTERs per minute", () => {
  it("is the most within any 60 s, kept from the last minute's times only", () => {
    const window = new RegistersInWindow(60_000_000_000);
    const second = 1_000_000_000;
    // 5 in the first 10 s, then one every 20 s, then 7 within 59 s.
    for (const at of [0, 2, 4, 6, 8, 30, 50, 70, 200, 210, 220, 230, 240, 250, 259]) window.add(at * second);
    expect(window.peak).toBe(7);
    // Exactly 60 s apart are in different minutes, as the old two-pointer count had it.
    const edge = new RegistersInWindow(60_000_000_000);
    for (const at of [0, 60, 120]) edge.add(at * second);
    expect(edge.peak).toBe(1);
    // Many entries slide through without the peak changing or the array growing without end.
    const steady = new RegistersInWindow(60_000_000_000);
    for (let i = 0; i < 100_000; i++) steady.add(i * second);
    expect(steady.peak).toBe(60);
  });
});
