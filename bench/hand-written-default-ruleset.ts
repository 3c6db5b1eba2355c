/**
 * The default policy's ruleset decided by hand, with no interpreter: the
 * baseline the model's throughput is compared against. It keeps exactly the
 * state the kernel keeps for those rules (two xt_recent tables with their LRU
 * eviction and timestamp rings), so both must reach the same verdicts.
 *
 *   SIP port, UDP  ->  on the block list and seen within blockSeconds: update, DROP
 *                  ->  payload starts with "REGISTER ": --set in the count list;
 *                      hitcount within seconds reached: --set on the block list, DROP
 */
import type { KernelSettings } from "../src/engines/model/kernel-settings.js";
import { defaultPolicy } from "../src/firewall/policy.js";
import type { Packet } from "../src/net/packet.js";

interface RecentEntry {
  readonly stamps: Float64Array;
  count: number;
  next: number;
}

interface RecentList {
  /** Map iteration order is the LRU order: re-inserting moves an entry to the tail, as recent_entry_update does. */
  readonly entries: Map<number, RecentEntry>;
  readonly ringSize: number;
}

export interface HandWrittenState {
  readonly count: RecentList;
  readonly block: RecentList;
  readonly hz: number;
  readonly listLimit: number;
}

const REGISTER = new TextEncoder().encode("REGISTER ");
const matcher = defaultPolicy.matcher;
if (matcher.kind !== "recent") throw new Error("the hand-written loop decides the default recent policy only");
const HITS = matcher.hits;
const SECONDS = matcher.seconds;
const BLOCK_SECONDS = defaultPolicy.blockSeconds;
const SIP_PORT = defaultPolicy.sip.ports[0]!;

function ringSizeFor(settings: KernelSettings, hits: number): number {
  // recent_mt_check: the ring holds max(ip_pkt_list_tot, hitcount) rounded up to a power of two.
  let size = 1;
  while (size < Math.max(settings.recentIpPktListTot, hits)) size <<= 1;
  return size;
}

export function newHandWrittenState(settings: KernelSettings): HandWrittenState {
  return {
    count: { entries: new Map(), ringSize: ringSizeFor(settings, HITS) },
    block: { entries: new Map(), ringSize: ringSizeFor(settings, 0) },
    hz: settings.hz,
    listLimit: settings.recentIpListTot,
  };
}

function stamp(list: RecentList, limit: number, address: number, jiffies: number): void {
  let entry = list.entries.get(address);
  if (entry) list.entries.delete(address);
  else {
    if (list.entries.size >= limit) list.entries.delete(list.entries.keys().next().value!);
    entry = { stamps: new Float64Array(list.ringSize), count: 0, next: 0 };
  }
  entry.stamps[entry.next] = jiffies;
  entry.next = (entry.next + 1) & (list.ringSize - 1);
  if (entry.count < list.ringSize) entry.count++;
  list.entries.set(address, entry);
}

function hitsSince(entry: RecentEntry, since: number, enough: number): boolean {
  let hits = 0;
  for (let i = 0; i < entry.count; i++) if (entry.stamps[i]! >= since && ++hits >= enough) return true;
  return false;
}

/** true = accepted. */
export function decideDefaultRuleset(state: HandWrittenState, packet: Packet, jiffies: number): boolean {
  if (packet.protocol !== 17 || packet.dport !== SIP_PORT) return true;
  const blocked = state.block.entries.get(packet.src);
  if (blocked && hitsSince(blocked, jiffies - BLOCK_SECONDS * state.hz, 1)) {
    stamp(state.block, state.listLimit, packet.src, jiffies);
    return false;
  }
  const bytes = packet.bytes;
  const start = packet.headerLength + 8;
  if (start !== 28 || bytes.length < start + REGISTER.length) return true;
  for (let i = 0; i < REGISTER.length; i++) if (bytes[start + i] !== REGISTER[i]) return true;
  stamp(state.count, state.listLimit, packet.src, jiffies);
  const counted = state.count.entries.get(packet.src)!;
  if (!hitsSince(counted, jiffies - SECONDS * state.hz, HITS)) return true;
  stamp(state.block, state.listLimit, packet.src, jiffies);
  return false;
}
