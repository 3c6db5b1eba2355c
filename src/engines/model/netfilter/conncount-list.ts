import type { ConnectionMarks } from "./match.js";

/**
 * One nf_conncount list (nf_conncount.c on Linux 6.18, as this kernel
 * behaves: see matches/connlimit.ts for what was measured): the connections
 * a connlimit rule's key, or an nft `ct count` expression, has seen, walked
 * and pruned of the ones conntrack no longer holds.
 */

/** One listed connection: conntrack's entry for it, or null when conntrack did not track the packet. */
export type Listed = ConnectionMarks | null;

/** CONNCOUNT_GC_MAX_NODES: a walk stops once it has evicted more than this. */
const GC_MAX_NODES = 8;

/** nf_conntrack_find_get on the listed tuple: the connection is confirmed and not yet timed out. */
const alive = (connection: Listed, jiffies: number): boolean => connection !== null && connection.confirmed === true && (connection.timeout ?? Infinity) - jiffies > 0;

/** __nf_conncount_gc_list: evict every connection conntrack no longer holds. */
export function collectStale(listed: Listed[], jiffies: number): void {
  let collected = 0;
  for (let index = 0; index < listed.length; ) {
    if (!alive(listed[index]!, jiffies)) {
      listed.splice(index, 1);
      collected++;
      continue;
    }
    index++;
    if (collected > GC_MAX_NODES) break;
  }
}

/** __nf_conncount_add: a walk, then the connection joins unless the walk found it. */
export function addConnection(listed: Listed[], connection: ConnectionMarks | null, jiffies: number): void {
  let collected = 0;
  for (let index = 0; index < listed.length; ) {
    if (collected > GC_MAX_NODES) break;
    const entry = listed[index]!;
    if (!alive(entry, jiffies)) {
      listed.splice(index, 1);
      collected++;
      continue;
    }
    // "We should not see tuples twice": found, nothing added.
    if (entry === connection) return;
    index++;
  }
  listed.push(connection);
}

/**
 * nf_conncount_add_skb on one list and what its callers do after (nft_connlimit,
 * and xt_connlimit's count_tree once the key's list exists): a packet of an
 * ASSURED connection adds nothing and its list is collected whole (the
 * -EEXIST path), any other is added after a walk; the list's count after.
 */
export function countConnection(listed: Listed[], connection: ConnectionMarks | null, assured: boolean, jiffies: number): number {
  if (assured && connection?.confirmed === true) collectStale(listed, jiffies);
  else addConnection(listed, connection, jiffies);
  return listed.length;
}
