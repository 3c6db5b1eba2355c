/** IPv4 addresses as unsigned 32-bit numbers: the form every hot path compares. */

export class AddressError extends Error {
  readonly code = "ADDRESS_INVALID";
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIpv4(text: string): number {
  const m = IPV4.exec(text.trim());
  if (!m) throw new AddressError(`"${text}" is not an IPv4 address (expected a.b.c.d)`);
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) throw new AddressError(`"${text}" is not an IPv4 address (octet ${octet} > 255)`);
    value = value * 256 + octet;
  }
  return value >>> 0;
}

export function isIpv4(text: string): boolean {
  try {
    parseIpv4(text);
    return true;
  } catch {
    return false;
  }
}

/** Exactly a.b.c.d as iptables and people read it alike: no spaces, no leading zeros (iptables reads 010 as octal). */
export function isCanonicalIpv4(text: string): boolean {
  return isIpv4(text) && formatIpv4(parseIpv4(text)) === text;
}

export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

export interface Cidr {
  readonly network: number;
  readonly mask: number;
  readonly prefixLength: number;
}

export function prefixMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** Parses "a.b.c.d", "a.b.c.d/len" or "a.b.c.d/m.a.s.k" (iptables accepts both mask forms). */
export function parseCidr(text: string): Cidr {
  const [addressText, maskText] = text.trim().split("/", 2) as [string, string | undefined];
  const address = parseIpv4(addressText);
  let mask: number;
  let prefixLength: number;
  if (maskText === undefined) {
    prefixLength = 32;
    mask = 0xffffffff;
  } else if (/^\d{1,2}$/.test(maskText)) {
    prefixLength = Number(maskText);
    if (prefixLength > 32) throw new AddressError(`"${text}": prefix length ${prefixLength} > 32`);
    mask = prefixMask(prefixLength);
  } else {
    mask = parseIpv4(maskText);
    prefixLength = countLeadingOnes(mask);
    if (prefixMask(prefixLength) !== mask) throw new AddressError(`"${text}": mask ${maskText} is not contiguous`);
  }
  return { network: (address & mask) >>> 0, mask, prefixLength };
}

function countLeadingOnes(mask: number): number {
  let n = 0;
  while (n < 32 && (mask & (0x80000000 >>> n)) !== 0) n++;
  return n;
}

/** Whether parseCidr takes the text. */
export function isCidr(text: string): boolean {
  try {
    parseCidr(text);
    return true;
  } catch {
    return false;
  }
}

export function cidrContains(cidr: Cidr, address: number): boolean {
  return ((address & cidr.mask) >>> 0) === cidr.network;
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefixLength}`;
}

/** The n-th host address inside a CIDR (offset 0 is the network address itself). */
export function cidrHost(cidr: Cidr, offset: number): number {
  const size = 2 ** (32 - cidr.prefixLength);
  if (offset < 0 || offset >= size) {
    throw new AddressError(`offset ${offset} does not fit in ${formatCidr(cidr)} (${size} addresses)`);
  }
  return (cidr.network + offset) >>> 0;
}
