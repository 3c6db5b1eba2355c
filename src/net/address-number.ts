import { AddressError, formatIpv4, parseIpv4 } from "./address.js";
import { formatIpv6, maskIpv6, parseIpv6 } from "./ipv6-address.js";

/**
 * Addresses of both families as one number type, so every table the model
 * keys by address (conntrack, recent, hashlimit, connlimit, the PBX's
 * registrations, outcomes) takes IPv6 unchanged and IPv4's hot paths keep
 * their 32-bit arithmetic. An IPv4 address is its 32-bit value; each distinct
 * IPv6 address a process meets gets the next number from 2^32 up, and its 16
 * bytes are kept to mask, match and print it. Numbers are per process: they
 * never leave it (verdicts and reports carry the printed address).
 */
const FIRST_IPV6 = 2 ** 32;

const numberByKey = new Map<string, number>();
const bytesByIndex: Uint8Array[] = [];
const maskedCache = new Map<number, number>();

export function isIpv6Number(address: number): boolean {
  return address >= FIRST_IPV6;
}

/** The number of the IPv6 address in bytes[offset, offset+16). */
export function ipv6Number(bytes: Uint8Array, offset = 0): number {
  const key = Buffer.from(bytes.buffer, bytes.byteOffset + offset, 16).toString("latin1");
  const known = numberByKey.get(key);
  if (known !== undefined) return known;
  const assigned = FIRST_IPV6 + bytesByIndex.length;
  bytesByIndex.push(new Uint8Array(bytes.subarray(offset, offset + 16)));
  numberByKey.set(key, assigned);
  return assigned;
}

/** The 16 bytes an IPv6 number stands for (shared: do not change them). */
export function ipv6BytesOf(address: number): Uint8Array {
  const bytes = bytesByIndex[address - FIRST_IPV6];
  if (!bytes) throw new AddressError(`${address} is not the number of an IPv6 address`);
  return bytes;
}

/** The address's first prefixLength bits, the rest zero: what recent --mask, hashlimit's srcmask and connlimit's mask key by. */
export function maskedIpv6Number(address: number, prefixLength: number): number {
  if (prefixLength >= 128) return address;
  const cacheKey = address * 129 + prefixLength;
  const cached = maskedCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const masked = ipv6Number(maskIpv6(ipv6BytesOf(address), prefixLength));
  maskedCache.set(cacheKey, masked);
  return masked;
}


/** Whether the address lies in network/prefixLength (both IPv6 numbers). */
export function ipv6InPrefix(address: number, network: Uint8Array, prefixLength: number): boolean {
  if (!isIpv6Number(address)) return false;
  const bytes = ipv6BytesOf(address);
  let bit = 0;
  for (; bit + 8 <= prefixLength; bit += 8) if (bytes[bit >> 3] !== network[bit >> 3]) return false;
  if (bit < prefixLength) {
    const mask = (0xff00 >> (prefixLength - bit)) & 0xff;
    if ((bytes[bit >> 3]! & mask) !== (network[bit >> 3]! & mask)) return false;
  }
  return true;
}

/** An IPv4 or IPv6 address as its number. */
export function parseAddress(text: string): number {
  let address = parsedAddresses.get(text);
  if (address === undefined) {
    address = text.includes(":") ? ipv6Number(parseIpv6(text)) : parseIpv4(text);
    remember(parsedAddresses, text, address);
  }
  return address;
}

/** The address as iptables (a.b.c.d) or ip6tables and nft (RFC 5952) print it. */
export function formatAddress(address: number): string {
  if (address < FIRST_IPV6) {
    // IPv4 by a direct-mapped slot: a Map keyed by numbers above 2^31 hashes each as a double, 190 ns a packet in capture inspect.
    const slot = (address ^ (address >>> 16)) & (IPV4_SLOTS - 1);
    let text = ipv4Texts[slot];
    if (text === undefined || ipv4Keys[slot] !== address) {
      text = formatIpv4(address);
      ipv4Keys[slot] = address;
      ipv4Texts[slot] = text;
    }
    return text;
  }
  let text = formattedAddresses.get(address);
  if (text === undefined) {
    text = isIpv6Number(address) ? formatIpv6(ipv6BytesOf(address)) : formatIpv4(address);
    remember(formattedAddresses, address, text);
  }
  return text;
}

/*
 * A model run turns each packet's addresses between text and numbers several
 * times (datagrams carry text, the firewall numbers); the same few addresses
 * each time. Bounded: a botnet's addresses past the bound start it afresh.
 */
const ADDRESS_CACHE_ENTRIES = 1 << 18;
const parsedAddresses = new Map<string, number>();
const formattedAddresses = new Map<number, string>();
const IPV4_SLOTS = 1 << 16;
const ipv4Keys = new Float64Array(IPV4_SLOTS);
const ipv4Texts: Array<string | undefined> = new Array<string | undefined>(IPV4_SLOTS).fill(undefined);

function remember<K, V>(cache: Map<K, V>, key: K, value: V): void {
  if (cache.size >= ADDRESS_CACHE_ENTRIES) cache.clear();
  cache.set(key, value);
}
