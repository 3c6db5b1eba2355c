import { ipv6BytesOf, isIpv6Number } from "../../../../net/address-number.js";
import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";

/**
 * xt_rpfilter.c and ip6t_rpfilter.c: reverse path filtering, the route back
 * to the packet's source looked up as if to send to it. The lab routes every
 * address through the interface a packet came in on (its default route) but
 * the host's own: 127/8 and ::1 on lo, the PBX's addresses on the interface
 * holding them, local routes that pass only with --accept-local (IPv4's
 * 127/8 also needs --loose: its device is lo, not where the packet came in;
 * IPv6 checks no device for a local route). A packet from lo always passes,
 * as do 0.0.0.0 to the broadcast or local multicast and IPv6's ::. Checked
 * against the kernel on a veth pair (test/engines/model/netfilter/tables.test.ts).
 * --validmark reads the mark into a lookup the lab has no rule for it in.
 */
export const rpfilterMatch: MatchFactory = (rawOptions, state, where) => {
  const options = new MatchOptions("rpfilter", rawOptions, where);
  const [loose, acceptLocal, invert] = [options.has("loose"), options.has("accept-local"), options.has("invert")];
  const local = new Set(state.localAddresses ?? []);
  return (packet) => {
    if (packet.inInterface === "lo") return !invert;
    const { src, dst } = packet;
    if (isIpv6Number(src)) {
      const bytes = ipv6BytesOf(src);
      const zeroTo15 = bytes.subarray(0, 15).every((byte) => byte === 0);
      if (zeroTo15 && bytes[15] === 0) return !invert;
      const isLocal = local.has(src) || (zeroTo15 && bytes[15] === 1);
      return (isLocal ? acceptLocal : true) !== invert;
    }
    if (src === 0 && (dst === 0xffffffff || dst >>> 8 === 0xe00000)) return !invert;
    const loopback = src >>> 24 === 127;
    if (!loopback && !local.has(src)) return !invert;
    // A local route: refused unless --accept-local, and then its device must be the one the packet came in on, unless --loose.
    return (acceptLocal && (loose || !loopback)) !== invert;
  };
};
