import { AddressError } from "./address.js";

/**
 * IPv6 addresses as 16 bytes, in the forms ip6tables and people write them
 * (RFC 4291 2.2: groups of up to four hex digits, one "::" for a run of
 * zero groups, an IPv4 tail such as ::ffff:198.51.100.10).
 */
export function parseIpv6(text: string): Uint8Array {
  const bad = (why: string) => new AddressError(`"${text}" is not an IPv6 address (${why})`);
  const halves = text.trim().split("::");
  if (halves.length > 2) throw bad('"::" more than once');
  const groupsOf = (half: string): number[] => {
    if (half === "") return [];
    const parts = half.split(":");
    const groups: number[] = [];
    parts.forEach((part, index) => {
      if (index === parts.length - 1 && part.includes(".")) {
        const octets = part.split(".").map(Number);
        if (octets.length !== 4 || octets.some((octet) => !Number.isInteger(octet) || octet < 0 || octet > 255) || !/^[\d.]+$/.test(part)) throw bad(`"${part}" is not an IPv4 tail`);
        groups.push((octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!);
        return;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) throw bad(`"${part}" is not a group of one to four hex digits`);
      groups.push(parseInt(part, 16));
    });
    return groups;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (halves.length === 1 && head.length !== 8) throw bad(`${head.length} groups, not 8`);
  if (halves.length === 2 && head.length + tail.length > 7) throw bad(`too many groups around "::"`);
  const groups = [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 0xff;
  });
  return bytes;
}

/** The prefix length a mask stands for (ffff:ffff:ffff:ffff:: is 64), or null when its ones are not contiguous. */
export function ipv6MaskPrefix(mask: Uint8Array): number | null {
  let prefix = 0;
  while (prefix < 128 && (mask[prefix >> 3]! & (0x80 >> (prefix & 7))) !== 0) prefix++;
  for (let bit = prefix; bit < 128; bit++) if ((mask[bit >> 3]! & (0x80 >> (bit & 7))) !== 0) return null;
  return prefix;
}

/** RFC 5952's text, as nft and ip print an address: lower case, no leading zeros, the longest run of two or more zero groups as "::". */
export function formatIpv6(bytes: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, index) => (bytes[index * 2]! << 8) | bytes[index * 2 + 1]!);
  let best = { at: -1, length: 0 };
  for (let at = 0; at < 8; ) {
    if (groups[at] !== 0) {
      at++;
      continue;
    }
    let end = at;
    while (end < 8 && groups[end] === 0) end++;
    if (end - at > best.length && end - at >= 2) best = { at, length: end - at };
    at = end;
  }
  const text = groups.map((group) => group.toString(16));
  if (best.at < 0) return text.join(":");
  return `${text.slice(0, best.at).join(":")}::${text.slice(best.at + best.length).join(":")}`;
}

/** Whether `text` is an IPv6 address, prefix (ADDRESS/N, N up to 128) or range (ADDRESS-ADDRESS), as nft takes them. */
export function isIpv6Value(text: string): boolean {
  const prefix = /^(.*)\/(\d{1,3})$/.exec(text);
  if (prefix && Number(prefix[2]) > 128) return false;
  try {
    for (const address of (prefix ? prefix[1]! : text).split("-")) parseIpv6(address);
    return true;
  } catch {
    return false;
  }
}

export interface Ipv6Cidr {
  readonly network: Uint8Array;
  readonly prefixLength: number;
}

/** "ADDRESS", "ADDRESS/N" or "ADDRESS/MASK", as ip6tables' -s and -d take them; the network's host bits cleared. */
export function parseIpv6Cidr(text: string): Ipv6Cidr {
  const [addressText, maskText] = text.trim().split("/", 2) as [string, string | undefined];
  const address = parseIpv6(addressText);
  let prefixLength = 128;
  if (maskText !== undefined && /^\d{1,3}$/.test(maskText)) {
    prefixLength = Number(maskText);
    if (prefixLength > 128) throw new AddressError(`"${text}": prefix length ${prefixLength} > 128`);
  } else if (maskText !== undefined) {
    const prefix = ipv6MaskPrefix(parseIpv6(maskText));
    if (prefix === null) throw new AddressError(`"${text}": mask ${maskText} is not contiguous`);
    prefixLength = prefix;
  }
  return { network: maskIpv6(address, prefixLength), prefixLength };
}

/** The address's first prefixLength bits, the rest zero. */
export function maskIpv6(bytes: Uint8Array, prefixLength: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let bit = 0; bit < 128; bit += 8) {
    const keep = Math.max(0, Math.min(8, prefixLength - bit));
    out[bit >> 3] = bytes[bit >> 3]! & ((0xff00 >> keep) & 0xff);
  }
  return out;
}

/** The n-th address inside a prefix (offset 0 is the network address itself). */
export function ipv6CidrHost(cidr: Ipv6Cidr, offset: number): Uint8Array {
  const hostBits = 128 - cidr.prefixLength;
  if (offset < 0 || (hostBits < 53 && offset >= 2 ** hostBits)) throw new AddressError(`offset ${offset} does not fit in ${formatIpv6(cidr.network)}/${cidr.prefixLength} (${2 ** hostBits} addresses)`);
  const bytes = cidr.network.slice();
  let carry = offset;
  for (let index = 15; index >= 0 && carry > 0; index--) {
    const sum = bytes[index]! + (carry % 256);
    bytes[index] = sum & 0xff;
    carry = Math.floor(carry / 256) + (sum >> 8);
  }
  return bytes;
}

/** Whether the address (or prefix) lies inside the prefix. */
export function ipv6CidrContains(outer: Ipv6Cidr, inner: Ipv6Cidr): boolean {
  if (inner.prefixLength < outer.prefixLength) return false;
  const masked = maskIpv6(inner.network, outer.prefixLength);
  return masked.every((byte, index) => byte === outer.network[index]);
}
