import { hotdropOf, type MatchFactory } from "../match.js";
import type { IpFamily } from "../../../../firewall/ruleset.js";
import { fullPrefix, prefixKey } from "./address-prefix.js";
import { MatchOptions } from "./match-options.js";
import { countConnection, type Listed } from "../conncount-list.js";

/**
 * -m connlimit as xt_connlimit.c and nf_conncount.c count on Linux 6.18 (the
 * nf_conncount_count API, with "reduce unnecessary GC", before the 6.19
 * rework to nf_conncount_add_skb): each rule keeps, per masked source (or
 * destination) address, a list of the connections it has seen, and matches
 * when that list is longer than the limit (`--connlimit-above`), or not
 * (`--connlimit-upto`). Checked against this kernel (test/engines/model/
 * netfilter/connlimit.test.ts). What the model keeps of it:
 *
 * - a packet of a connection that is not yet ASSURED walks its key's list:
 *   connections conntrack no longer holds are evicted (a first packet the
 *   firewall dropped never became one; an expired flow) until the packet's
 *   own connection is found, which ends the walk; a connection not found is
 *   added, confirmed or not, so a flow whose first packet went past the rule
 *   is counted when a later one reaches it, and stale entries listed after
 *   a flow stay counted for that flow's packets;
 * - a packet of an ASSURED connection (a UDP flow replied to and older than
 *   2 s) adds nothing and walks the whole list, evicting every stale entry
 *   (the -EEXIST path of nf_conncount_add_skb followed by a gc of the list).
 *   The kernel's source for 6.18.y moved between these two forms in 2025-26;
 *   this split is what this kernel does, measured (the tests, and
 *   `slamlab diff` on the random seeds from 3001), not read;
 * - a walk stops after 9 evictions (CONNCOUNT_GC_MAX_NODES) and is never
 *   skipped: "reduce unnecessary GC" skips it while
 *   time_is_after_eq_jiffies(list->last_gc), but last_gc is a u32 and jiffies
 *   64 bits, which pass 2^32 five minutes after boot (INITIAL_JIFFIES), so on
 *   a PBX up longer the skip never happens;
 * - an ASSURED connection whose key's list the walk emptied counts 0, which
 *   xt_connlimit takes for a failed allocation: it hotdrops the packet.
 *
 * Not modelled: the tree's slots (jhash with a random seed decides which
 * other keys' lists a new key's insertion collects), the per-CPU grace of
 * find_or_evict (a connection another CPU added under two jiffies ago
 * survives a walk; the model is one CPU), TCP's TIME_WAIT/CLOSE eviction
 * (the model does not follow TCP's states), and allocation failure (the
 * only way the count is 0 and the kernel hotdrops).
 */

function parseConnlimit(options: MatchOptions, family: IpFamily): { limit: number; invert: boolean; key: (address: number) => number; byDestination: boolean } {
  const above = options.get("connlimit-above");
  const upto = options.get("connlimit-upto");
  const given = above ?? upto;
  if (!given || (above && upto)) throw options.error("expected one of --connlimit-above N or --connlimit-upto N");
  const limit = options.integer(above ? "connlimit-above" : "connlimit-upto", 0, 0, 0xffffffff);
  // --connlimit-upto is XT_CONNLIMIT_INVERT; a negated option flips it again.
  const invert = (upto !== undefined) !== given.negated;
  const prefix = options.integer("connlimit-mask", fullPrefix(family), 0, fullPrefix(family));
  if (options.has("connlimit-saddr") && options.has("connlimit-daddr")) throw options.error("--connlimit-saddr and --connlimit-daddr exclude each other");
  return { limit, invert, key: prefixKey(family, prefix), byDestination: options.has("connlimit-daddr") };
}

/** connlimit_mt: (connections > limit) ^ invert, a count of 0 hotdrops. Each rule counts on its own (nf_conncount_init per rule). */
export const connlimitMatch: MatchFactory = (rawOptions, state, where) => {
  const { limit, invert, key: keyOf, byDestination } = parseConnlimit(new MatchOptions("connlimit", rawOptions, where), where.family ?? 4);
  const lists = new Map<number, Listed[]>();
  const hotdrop = hotdropOf(state);
  return (packet, context) => {
    const jiffies = context.jiffies;
    const key = keyOf(byDestination ? packet.dst : packet.src);
    const connection = context.connection ?? null;
    const listed = lists.get(key);
    // insert_tree: a key's first connection starts its list, whatever its state.
    if (!listed) lists.set(key, [connection]);
    const count = listed ? countConnection(listed, connection, context.ctAssured, jiffies) : 1;
    if (count === 0) {
      hotdrop.dropped = true;
      hotdrop.reason = "connlimit counted no connection for the packet's key (its list emptied under an ASSURED connection), which xt_connlimit takes for a failed allocation";
      return false;
    }
    return (count > limit) !== invert;
  };
};
