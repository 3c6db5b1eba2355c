import { ipv6BytesOf, isIpv6Number } from "./address-number.js";

/**
 * An address's route type as the lab routes, in the kernel's names (nft's
 * `fib ... type`): multicast (224/4, ff00::/8), broadcast (0.0.0.0 and
 * 255.255.255.255), local (127/8, ::1 and the host's own addresses), anycast
 * (IPv6's :: , the kernel's answer for duplicate address detection's source),
 * unicast for the rest. The lab has no blackhole, unreachable or prohibit
 * routes. Local routes have no interface, which fib's oif and rpfilter read.
 */
export function routeTypeOf(address: number, local: ReadonlySet<number>): "multicast" | "broadcast" | "local" | "anycast" | "unicast" {
  if (isIpv6Number(address)) {
    const bytes = ipv6BytesOf(address);
    if (bytes[0] === 0xff) return "multicast";
    const zeroTo15 = bytes.subarray(0, 15).every((byte) => byte === 0);
    if (local.has(address) || (bytes[15] === 1 && zeroTo15)) return "local";
    return bytes[15] === 0 && zeroTo15 ? "anycast" : "unicast";
  }
  if (address >>> 28 === 0xe) return "multicast";
  if (address === 0 || address === 0xffffffff) return "broadcast";
  return address >>> 24 === 127 || local.has(address) ? "local" : "unicast";
}
