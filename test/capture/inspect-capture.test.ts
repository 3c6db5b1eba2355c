import { describe, expect, it } from "vitest";
import { inspectCapture } from "../../src/capture/inspect-capture.js";
import { pcapFile } from "../../src/capture/pcap-writer.js";
import { ethernet, sipDatagram, writeTemp } from "../helpers/capture-files.js";

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
});
