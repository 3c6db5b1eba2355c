/**
 * LINKTYPE_NFLOG records (tcpdump.org/linkTypes/LINKTYPE_NFLOG.html): a
 * 4-byte header (address family, version, group), then TLVs whose length and
 * type are in the capturing host's byte order (little-endian here), each
 * padded to 4 bytes. slamlab reads the prefix (which rule logged it), the
 * packet and the kernel's timestamp.
 */
const NFULA_PACKET_HDR = 1;
const NFULA_TIMESTAMP = 3;
const NFULA_PAYLOAD = 9;
const NFULA_PREFIX = 10;

export interface NflogRecord {
  readonly family: number;
  /**
   * NFULA_PACKET_HDR's hw_protocol, the packet's ethertype (0x0800, 0x86dd);
   * null without one. A netdev chain logs with family 5 (NFPROTO_NETDEV):
   * only this says whether its packet is IPv4 or IPv6.
   */
  readonly hwProtocol: number | null;
  readonly group: number;
  readonly prefix: string;
  /** Offset of the logged packet inside the frame, -1 when it carries none. */
  readonly payloadOffset: number;
  readonly payloadLength: number;
  /**
   * NFULA_TIMESTAMP: when the kernel received the packet (skb->tstamp, wall
   * clock), in µs since the epoch; null where the packet carries none (locally
   * sent packets). tcpdump stamps its pcap records when it reads them, late
   * and in batches, so this is the time to trust.
   */
  readonly kernelTimeUs: number | null;
}

export function nflogRecord(data: Uint8Array): NflogRecord | null {
  if (data.length < 4) return null;
  const family = data[0]!;
  const group = (data[2]! << 8) | data[3]!;
  let prefix = "";
  let payloadOffset = -1;
  let payloadLength = 0;
  let kernelTimeUs: number | null = null;
  let hwProtocol: number | null = null;
  let at = 4;
  while (at + 4 <= data.length) {
    const length = data[at]! | (data[at + 1]! << 8);
    const type = data[at + 2]! | (data[at + 3]! << 8);
    if (length < 4 || at + length > data.length) break;
    if (type === NFULA_PACKET_HDR && length >= 6) {
      // struct nfulnl_msg_packet_hdr: __be16 hw_protocol, u8 hook, u8 pad.
      hwProtocol = (data[at + 4]! << 8) | data[at + 5]!;
    } else if (type === NFULA_PAYLOAD) {
      payloadOffset = at + 4;
      payloadLength = length - 4;
    } else if (type === NFULA_TIMESTAMP && length >= 20) {
      // struct nfulnl_msg_packet_timestamp: __be64 sec, __be64 usec.
      const view = new DataView(data.buffer, data.byteOffset + at + 4, 16);
      kernelTimeUs = Number(view.getBigUint64(0)) * 1_000_000 + Number(view.getBigUint64(8));
    } else if (type === NFULA_PREFIX) {
      const bytes = data.subarray(at + 4, at + length);
      const end = bytes.indexOf(0);
      prefix = new TextDecoder().decode(end >= 0 ? bytes.subarray(0, end) : bytes);
    }
    at += (length + 3) & ~3;
  }
  return { family, group, hwProtocol, prefix, payloadOffset, payloadLength, kernelTimeUs };
}
