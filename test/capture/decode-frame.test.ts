import { describe, expect, it } from "vitest";
import { decodeFrame } from "../../src/capture/decode-frame.js";
import { LINKTYPE_ETHERNET } from "../../src/capture/link-types.js";
import { pcapFile } from "../../src/capture/pcap-writer.js";
import { concatBytes } from "../../src/capture/concat-bytes.js";
import { inspectCapture } from "../../src/capture/inspect-capture.js";
import { ethernet, ipv4, sipDatagram, writeTemp } from "../helpers/capture-files.js";
import { haveTshark, tsharkPackets } from "../helpers/tshark.js";
import { encodeIpv6Udp } from "../../src/net/ipv6.js";
import { parseAddress } from "../../src/net/address-number.js";

const concat = (...parts: Uint8Array[]) => concatBytes(parts);

/** An Ethernet frame with this EtherType in front of `payload`. */
const etherFrame = (etherType: number, payload: Uint8Array) => concat(new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, etherType >> 8, etherType & 0xff]), payload);

const register = (src: string) => sipDatagram(src, `REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n`);
const gre = (flags: number, protocolType: number, extra: number[] = []) => new Uint8Array([flags, 0, protocolType >> 8, protocolType & 0xff, ...extra]);

const frames: Array<{ name: string; data: Uint8Array; inner: string | null }> = [
  { name: "IP in IP", data: ethernet(ipv4(4, "203.0.113.1", "203.0.113.2", register("198.18.1.1"))), inner: "198.18.1.1" },
  { name: "GRE", data: ethernet(ipv4(47, "203.0.113.1", "203.0.113.2", concat(gre(0, 0x0800), register("198.18.1.2")))), inner: "198.18.1.2" },
  { name: "GRE with a key and a sequence number", data: ethernet(ipv4(47, "203.0.113.1", "203.0.113.2", concat(gre(0x30, 0x0800, [0, 0, 0, 9, 0, 0, 0, 1]), register("198.18.1.3")))), inner: "198.18.1.3" },
  { name: "GRE bridging Ethernet", data: ethernet(ipv4(47, "203.0.113.1", "203.0.113.2", concat(gre(0, 0x6558), etherFrame(0x0800, register("198.18.1.4"))))), inner: "198.18.1.4" },
  { name: "MPLS, two labels", data: etherFrame(0x8847, concat(new Uint8Array([0, 1, 0x40, 64, 0, 2, 0x41, 64]), register("198.18.1.5"))), inner: "198.18.1.5" },
  { name: "GRE carrying ERSPAN", data: ethernet(ipv4(47, "203.0.113.1", "203.0.113.2", concat(gre(0, 0x88be), new Uint8Array(40)))), inner: null },
];

describe("tunnels in captures", () => {
  for (const { name, data, inner } of frames) {
    it(`${name}: ${inner ? "decoded to the packet it carries" : "counted as skipped, by kind"}`, () => {
      const packet = decodeFrame({ index: 0, linkType: LINKTYPE_ETHERNET, timestampNs: 0n, data, originalLength: data.length, offset: 24 });
      if (inner === null) {
        expect(packet).toBe("GRE not carrying IP");
        return;
      }
      expect(typeof packet).not.toBe("string");
      const decoded = packet as Exclude<typeof packet, string>;
      expect([decoded.src, decoded.dst, decoded.protocol, decoded.dport]).toEqual([inner, "198.51.100.10", 17, 5060]);
      expect(new TextDecoder().decode(decoded.payload)).toMatch(/^REGISTER sip:/);
    });
  }

  it("capture inspect counts the REGISTERs inside, names the skipped tunnel, and tshark reads the same SIP", async () => {
    const path = writeTemp(pcapFile(LINKTYPE_ETHERNET, frames.map(({ data }, index) => ({ timestampNs: 1_700_000_000_000_000_000n + BigInt(index) * 1_000_000n, data }))));
    const summary = await inspectCapture(path);
    expect(summary.requests).toEqual({ REGISTER: 5 });
    expect(summary.undecodable).toMatchObject({ "GRE not carrying IP": 1 });
    if (haveTshark) expect(tsharkPackets(path).map((packet) => packet.sip)).toEqual(["REGISTER", "REGISTER", "REGISTER", "REGISTER", "REGISTER", ""]);
  });
});

describe("IP headers whose version contradicts the link layer", () => {
  it("an EtherType of IPv6 over a header whose version is not 6 is a bad IP header, as ipv6_rcv drops it, and capture inspect skips it rather than judging it", async () => {
    const datagram = encodeIpv6Udp({ src: parseAddress("2001:db8:bad:1::1"), dst: parseAddress("2001:db8:100::10"), sport: 5060, dport: 5060, payload: new TextEncoder().encode("REGISTER sip:[2001:db8:100::10] SIP/2.0\r\n\r\n") });
    datagram[0] = 0x45;
    const data = etherFrame(0x86dd, datagram);
    expect(decodeFrame({ index: 0, linkType: LINKTYPE_ETHERNET, timestampNs: 0n, data, originalLength: data.length, offset: 24 })).toBe("bad IP header");
    const summary = await inspectCapture(writeTemp(pcapFile(LINKTYPE_ETHERNET, [{ timestampNs: 1_700_000_000_000_000_000n, data }])), { onRequest: () => expect.unreachable("a bad header is no request") });
    expect(summary.undecodable).toEqual({ "bad IP header": 1 });
  });
});
