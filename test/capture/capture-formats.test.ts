import { describe, expect, it } from "vitest";
import { CaptureError } from "../../src/capture/capture-error.js";
import { decodeFrame, type DecodedPacket } from "../../src/capture/decode-frame.js";
import { Ipv4Reassembler } from "../../src/capture/ipv4-reassembly.js";
import { pcapFile } from "../../src/capture/pcap-writer.js";
import { pcapngFile } from "../../src/capture/pcapng-writer.js";
import { openCapture } from "../../src/capture/read-capture.js";
import { encodeIpv4Udp } from "../../src/net/ipv4.js";
import { ethernet, registersPcap, sipDatagram, writeTemp } from "../helpers/capture-files.js";

async function readAll(path: string, options = {}) {
  const capture = await openCapture(path, options);
  const frames = [];
  for await (const frame of capture) frames.push({ ...frame, data: frame.data.slice() });
  return { frames, capture };
}

async function captureError(path: string, options = {}): Promise<CaptureError> {
  try {
    await readAll(path, options);
  } catch (error) {
    expect(error).toBeInstanceOf(CaptureError);
    return error as CaptureError;
  }
  throw new Error("expected a CaptureError");
}

describe("pcap and pcapng reading", () => {
  it.each([
    ["microsecond, little-endian", {}],
    ["microsecond, big-endian", { bigEndian: true }],
    ["nanosecond, little-endian", { nanosecond: true }],
    ["nanosecond, big-endian", { nanosecond: true, bigEndian: true }],
  ])("reads classic pcap, %s", async (_label, options) => {
    const { frames, capture } = await readAll(writeTemp(registersPcap(5, options)));
    expect(frames).toHaveLength(5);
    const resolution = (options as { nanosecond?: boolean }).nanosecond ? 1n : 1000n;
    expect(frames[1]!.timestampNs).toBe(((1_700_000_000_000_000_000n + 123_456_789n) / resolution) * resolution);
    expect(capture.format).toBe((options as { nanosecond?: boolean }).nanosecond ? "pcap-ns" : "pcap");
  });

  it("reads pcapng with per-packet comments and raw-IP interfaces", async () => {
    const ip = sipDatagram("198.18.1.1", "OPTIONS sip:x SIP/2.0\r\n\r\n");
    const { frames, capture } = await readAll(writeTemp(pcapngFile([{ timestampUs: 1_500_000, bytes: ip, comment: "hello" }]), ".pcapng"));
    expect(capture.format).toBe("pcapng");
    expect(frames[0]).toMatchObject({ timestampNs: 1_500_000_000n, linkType: 101, comment: "hello" });
    expect(decodeFrame(frames[0]!)).toMatchObject({ src: "198.18.1.1", dport: 5060, protocol: 17 });
  });

  it("decodes Ethernet with 802.1Q tags, Linux cooked v1 and v2, and loopback framing", async () => {
    const ip = sipDatagram("198.18.2.2", "REGISTER sip:x SIP/2.0\r\n\r\n");
    const sll = new Uint8Array(16 + ip.length);
    sll.set([0x08, 0x00], 14);
    sll.set(ip, 16);
    const sll2 = new Uint8Array(20 + ip.length);
    sll2.set([0x08, 0x00], 0);
    sll2.set(ip, 20);
    const loopback = new Uint8Array(4 + ip.length);
    loopback.set([2, 0, 0, 0], 0);
    loopback.set(ip, 4);
    const cases: Array<[number, Uint8Array]> = [
      [1, ethernet(ip, 42)],
      [113, sll],
      [276, sll2],
      [0, loopback],
      [101, ip],
    ];
    for (const [linkType, data] of cases) {
      const { frames } = await readAll(writeTemp(pcapFile(linkType, [{ timestampNs: 0n, data }])));
      const packet = decodeFrame(frames[0]!) as DecodedPacket;
      expect([linkType, packet.src, packet.sport, new TextDecoder().decode(packet.payload).slice(0, 8)]).toEqual([linkType, "198.18.2.2", 5060, "REGISTER"]);
    }
  });

  it("decodes IPv6 with an extension header, and TCP payloads", async () => {
    const payload = new TextEncoder().encode("REGISTER sip:x SIP/2.0\r\n\r\n");
    const v6 = new Uint8Array(40 + 8 + 8 + payload.length);
    v6[0] = 0x60;
    v6[4] = 0;
    v6[5] = 16 + payload.length;
    v6[6] = 0; // hop-by-hop options first
    v6[7] = 64;
    v6.set([0x20, 0x01, 0x0d, 0xb8], 8);
    v6[23] = 1;
    v6.set([0x20, 0x01, 0x0d, 0xb8], 24);
    v6[39] = 2;
    v6[40] = 17; // next: UDP
    v6.set([0x13, 0xc4, 0x13, 0xc4], 48);
    v6.set(payload, 56);
    const { frames } = await readAll(writeTemp(pcapFile(229, [{ timestampNs: 0n, data: v6 }])));
    expect(decodeFrame(frames[0]!)).toMatchObject({ ipVersion: 6, src: "2001:db8::1", dst: "2001:db8::2", protocol: 17, sport: 5060 });
  });

  it("reassembles IPv4 fragments into the datagram the filter sees behind conntrack", () => {
    const whole = encodeIpv4Udp({ src: 0xc6120101, dst: 0xc6336410, sport: 5060, dport: 5060, payload: new TextEncoder().encode(`REGISTER sip:x SIP/2.0\r\n${"X-Pad: y\r\n".repeat(40)}\r\n`), identification: 77, dontFragment: false });
    const header = whole.subarray(0, 20);
    const body = whole.subarray(20);
    const fragment = (offset: number, end: number, more: boolean) => {
      const out = new Uint8Array(20 + (end - offset));
      out.set(header, 0);
      out.set(body.subarray(offset, end), 20);
      const view = new DataView(out.buffer);
      view.setUint16(2, out.length);
      view.setUint16(6, (more ? 0x2000 : 0) | (offset / 8));
      return out;
    };
    const reassembler = new Ipv4Reassembler();
    expect(reassembler.add({ ip: fragment(200, body.length, false), atUs: 0 })).toBeNull();
    const done = reassembler.add({ ip: fragment(0, 200, true), atUs: 10 });
    expect(done).not.toBeNull();
    expect(Array.from(done!.subarray(20))).toEqual(Array.from(body));
    expect(new DataView(done!.buffer).getUint16(2)).toBe(whole.length);
  });
});

describe("bad captures give errors with byte offsets, or counted warnings", () => {
  it("a wrong magic names the bytes and what to do, and spots gzip", async () => {
    const error = await captureError(writeTemp(new TextEncoder().encode("{\n  \"not\": \"a capture\"}")));
    expect(error.code).toBe("CAPTURE_FORMAT");
    expect(error.message).toMatch(/not a pcap or pcapng file: magic 0x7b0a2020 at byte 0 \(it looks like JSON\)/);
    expect((await captureError(writeTemp(Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0)))).message).toContain("gunzip");
  });

  it("an empty file says so", async () => {
    expect((await captureError(writeTemp(new Uint8Array(0)))).message).toContain("the file is empty");
  });

  it("a capture cut mid-packet is an error at that byte, or a counted warning with --allow-truncated", async () => {
    const bytes = registersPcap(3);
    const cut = writeTemp(bytes.subarray(0, bytes.length - 10));
    const error = await captureError(cut);
    expect(error.code).toBe("CAPTURE_TRUNCATED");
    expect(error.message).toMatch(/ends inside the packet data of packet 3 at byte \d+ .*the 2 packets before it are intact: pass --allow-truncated/);
    const { frames, capture } = await readAll(cut, { allowTruncated: true });
    expect(frames).toHaveLength(2);
    expect([...capture.warnings.counts.keys()]).toEqual(["capture cut short in the middle of a packet (rest ignored)"]);
  });

  it("an unsupported link type is an error for pcap and a counted skip for one pcapng interface", async () => {
    const error = await captureError(writeTemp(pcapFile(105, [{ timestampNs: 0n, data: new Uint8Array(30) }])));
    expect(error.message).toMatch(/link type 105 \(IEEE 802.11\) at byte 20 is not supported/);
    expect(error.offset).toBe(20);
  });

  it("a record claiming more than any capture holds is corruption, reported before anything is allocated", async () => {
    const bytes = registersPcap(1);
    new DataView(bytes.buffer).setUint32(24 + 8, 0xfffffff0, true);
    const error = await captureError(writeTemp(bytes));
    expect(error.code).toBe("CAPTURE_CORRUPT");
    expect(error.offset).toBe(24);
  });

  it("a packet longer than the snap length is read and counted", async () => {
    const bytes = pcapFile(1, [{ timestampNs: 0n, data: ethernet(sipDatagram("198.18.1.1", "REGISTER sip:x SIP/2.0\r\n\r\n")) }], { snapLength: 40 });
    const { frames, capture } = await readAll(writeTemp(bytes));
    expect(frames).toHaveLength(1);
    expect(capture.warnings.counts.get("packet longer than the snap length")?.count).toBe(1);
  });

  it("a missing file is a clear error", async () => {
    expect((await captureError("/nonexistent/attack.pcap")).message).toBe("/nonexistent/attack.pcap: no such file");
  });
});
