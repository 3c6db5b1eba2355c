/**
 * A packet as netfilter's IPv4 hooks see it: the whole datagram from the IP
 * header on (skb->data at NF_INET_*), plus the fields every rule reads, decoded
 * once. Matches that read bytes (string, u32) read `bytes`; offsets they use
 * are from the start of the IP header, as in the kernel.
 */
export interface Packet {
  readonly bytes: Uint8Array;
  /** IP version: 4 for iptables' hooks, 6 for ip6tables'. */
  readonly family: 4 | 6;
  /** Source/destination as address numbers: an IPv4 address's 32 bits, an IPv6 address's number from address-number.ts. */
  readonly src: number;
  readonly dst: number;
  /** IP protocol number (17 UDP, 6 TCP); for IPv6 the upper layer's, after extension headers. */
  readonly protocol: number;
  /** 0 when the packet has no transport header (non-first fragment, other protocols). */
  readonly sport: number;
  readonly dport: number;
  /** TTL, or IPv6's hop limit. */
  readonly ttl: number;
  /** IP header length in bytes (20 without options; IPv6's 40 with its extension headers). */
  readonly headerLength: number;
  /** Offset of the transport payload (the SIP text for UDP). */
  readonly payloadOffset: number;
  /** Fragment offset in bytes; non-zero means no transport header here. */
  readonly fragmentOffset: number;
  readonly moreFragments: boolean;
  /** Interface the packet arrived on (-i); the lab's is eth0. */
  readonly inInterface: string;
}

export function payloadOf(packet: Packet): Uint8Array {
  return packet.bytes.subarray(packet.payloadOffset);
}
