import { maskedIpv6Number } from "../../../../net/address-number.js";
import type { IpFamily } from "../../../../firewall/ruleset.js";

/**
 * The address a per-source table keys by under a prefix (recent's --mask,
 * hashlimit's srcmask, connlimit's mask): IPv4's 32-bit arithmetic, or the
 * number of the IPv6 address with its host bits cleared.
 */
export function prefixKey(family: IpFamily, prefixLength: number): (address: number) => number {
  if (family === 6) return prefixLength >= 128 ? (address) => address : (address) => maskedIpv6Number(address, prefixLength);
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  return (address) => (address & mask) >>> 0;
}

/** The widest prefix a family's addresses have: 32 or 128. */
export const fullPrefix = (family: IpFamily): number => (family === 6 ? 128 : 32);
