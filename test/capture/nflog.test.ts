import { describe, expect, it } from "vitest";
import { nflogRecord } from "../../src/capture/nflog.js";

/** An NFLOG record as tcpdump -i nflog:N writes it: header, then little-endian TLVs padded to 4 bytes. */
function record(tlvs: Array<[number, Uint8Array]>): Uint8Array {
  const parts: number[] = [2, 0, 0xfd, 0xe8]; // AF_INET, version 0, group 65000
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

  it("has no kernel time for a packet the host sent itself (OUTPUT carries no timestamp)", () => {
    expect(nflogRecord(record([[10, new TextEncoder().encode("v:OUTPUT:0\0")]]))!.kernelTimeUs).toBeNull();
  });
});
