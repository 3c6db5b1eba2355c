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

describe("a source's peak REGISTERs per minute", () => {
  it("is the most within any 60 s, kept from the last minute's times only", () => {
    const window = new RegistersInWindow(60_000_000_000n);
    const second = 1_000_000_000n;
    // 5 in the first 10 s, then one every 20 s, then 7 within 59 s.
    for (const at of [0n, 2n, 4n, 6n, 8n, 30n, 50n, 70n, 200n, 210n, 220n, 230n, 240n, 250n, 259n]) window.add(at * second);
    expect(window.peak).toBe(7);
    // Exactly 60 s apart are in different minutes, as the old two-pointer count had it.
    const edge = new RegistersInWindow(60_000_000_000n);
    for (const at of [0n, 60n, 120n]) edge.add(at * second);
    expect(edge.peak).toBe(1);
    // Many entries slide through without the peak changing or the array growing without end.
    const steady = new RegistersInWindow(60_000_000_000n);
    for (let i = 0n; i < 100_000n; i++) steady.add(i * second);
    expect(steady.peak).toBe(60);
  });
});
