import { routeTypeOf } from "../../../../net/route-type.js";
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
    if (packet.family === 4 && src === 0 && (dst === 0xffffffff || dst >>> 8 === 0xe00000)) return !invert;
    if (routeTypeOf(src, local) !== "local") return !invert;
    // A local route: refused unless --accept-local; IPv4 also wants its device to be the one the packet came in on
    // (lo, for 127/8, is not), unless --loose.
    const onLo = packet.family === 4 && src >>> 24 === 127;
    return (acceptLocal && (loose || !onLo)) !== invert;
  };
};
