import { describe, expect, it } from "vitest";
import { nflogRecord } from "../../src/capture/nflog.js";
import { decodeFrame } from "../../src/capture/decode-frame.js";
import { LINKTYPE_NFLOG } from "../../src/capture/link-types.js";

/** An NFLOG record as tcpdump -i nflog:N writes it: header, then little-endian TLVs padded to 4 bytes. */
function record(tlvs: Array<[number, Uint8Array]>, family = 2): Uint8Array {
  const parts: number[] = [family, 0, 0xfd, 0xe8]; // AF_INET unless given, version 0, group 65000
  for (const [type, value] of tlvs) {
    const length = 4 + value.length;
    parts.push(length & 0xff, length >> 8, type & 0xff, type >> 8, ...value);
    while (parts.length % 4) parts.push(0);
  }
  return Uint8Array.from(parts);
}

describe("NFLOG records (the docker engine's verdict log)", () => {
  it("reads the prefix, the packet and the kernel's receive time (NFULA_TIMESTAMP, big-endian seconds and µs)", () => {
    const timestamp = new Uint8Array(16);
    const view = new DataView(timestamp.buffer);
    view.setBigUint64(0, 1_795_631_253n);
    view.setBigUint64(8, 524_599n);
    const packet = Uint8Array.from([0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 1, 1, 198, 51, 100, 10]);
    const parsed = nflogRecord(record([[10, new TextEncoder().encode("v:INPUT:3\0")], [3, timestamp], [9, packet]]))!;
    expect(parsed.prefix).toBe("v:INPUT:3");
    expect(parsed.group).toBe(65000);
    expect(parsed.kernelTimeUs).toBe(1_795_631_253_524_599);
    expect(parsed.payloadLength).toBe(20);
  });

  it("tells a netdev chain's packet (family NFPROTO_NETDEV) by its ethertype, so the lab's ingress verdicts join their packets", () => {
    const packet = Uint8Array.from([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 66, 6, 198, 51, 100, 10, 0x13, 0xc4, 0x13, 0xc4, 0, 8, 0, 0]);
    const hardwareHeader = Uint8Array.from([0x08, 0x00, 1, 0]); // NFULA_PACKET_HDR: ETH_P_IP, the ingress hook
    const data = record([[1, hardwareHeader], [10, new TextEncoder().encode("v:netdev edge ingress:2:DROP\0")], [9, packet]], 5);
    expect(nflogRecord(data)!.hwProtocol).toBe(0x0800);
    const decoded = decodeFrame({ index: 0, timestampNs: 0n, linkType: LINKTYPE_NFLOG, data, originalLength: data.length, offset: 0 });
    expect(typeof decoded === "string" ? decoded : decoded.src).toBe("198.18.66.6");
  });

  it("has no kernel time for a packet the host sent itself (OUTPUT carries no timestamp)", () => {
    expect(nflogRecord(record([[10, new TextEncoder().encode("v:OUTPUT:0\0")]]))!.kernelTimeUs).toBeNull();
  });
});
