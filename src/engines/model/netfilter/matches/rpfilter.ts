import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";

/**
 * xt_rpfilter.c (IPv4): reverse path filtering, the route back to the
 * packet's source looked up as if to send to it. The lab routes every
 * address through the interface a packet came in on (its default route)
 * but the host's own: 127/8 on lo, the PBX's address on the interface it
 * holds, both local routes, which pass only with --accept-local and, for
 * 127/8 (lo is not where it came in), --loose. A packet from lo always
 * passes, as does 0.0.0.0 to the broadcast or local multicast. Checked
 * against the kernel on a veth pair (test/engines/model/netfilter/tables.test.ts).
 * --validmark reads the mark into a lookup the lab has no rule for it in.
 */
export const rpfilterMatch: MatchFactory = (rawOptions, state, where) => {
  const options = new MatchOptions("rpfilter", rawOptions, where);
  if (where.family === 6) throw options.error("ip6tables' rpfilter (ip6t_rpfilter.c) is not modelled yet; iptables' is. Run this ruleset with --engine docker", "RULESET_UNSUPPORTED");
  const [loose, acceptLocal, invert] = [options.has("loose"), options.has("accept-local"), options.has("invert")];
  const local = new Set(state.localAddresses ?? []);
  return (packet) => {
    if (packet.inInterface === "lo") return !invert;
    const { src, dst } = packet;
    if (src === 0 && (dst === 0xffffffff || dst >>> 8 === 0xe00000)) return !invert;
    const loopback = src >>> 24 === 127;
    if (!loopback && !local.has(src)) return !invert;
    // A local route: refused unless --accept-local, and then its device must be the one the packet came in on, unless --loose.
    const passes = acceptLocal && (loose || !loopback);
    return passes !== invert;
  };
};
