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

interface HandWrittenFlow {
  readonly from: number;
  readonly to: number;
  timeout: number;
}

/**
 * UDP conntrack by hand, the work the kernel's does for this flood: a flow's
 * entry found by its tuple in either direction, refreshed by each packet,
 * made only for a packet the rules accepted (__nf_conntrack_confirm), and
 * dropped once timed out. Unreplied flows keep the 30 s timeout.
 */
export interface HandWrittenConntrack {
  /** One end (address << 16 | port) -> the other end -> the flow, for each direction of each flow. */
  readonly ends: Map<number, Map<number, HandWrittenFlow>>;
  readonly timeoutJiffies: number;
  readonly sweepJiffies: number;
  lastSweep: number;
}

export function newHandWrittenConntrack(settings: KernelSettings): HandWrittenConntrack {
  return { ends: new Map(), timeoutJiffies: settings.conntrackUdpTimeoutSeconds * settings.hz, sweepJiffies: 60 * settings.hz, lastSweep: -Infinity };
}

function link(conntrack: HandWrittenConntrack, from: number, to: number, flow: HandWrittenFlow): void {
  const others = conntrack.ends.get(from);
  if (others) others.set(to, flow);
  else conntrack.ends.set(from, new Map([[to, flow]]));
}

function unlink(conntrack: HandWrittenConntrack, from: number, to: number): void {
  const others = conntrack.ends.get(from);
  if (!others) return;
  others.delete(to);
  if (others.size === 0) conntrack.ends.delete(from);
}

function forget(conntrack: HandWrittenConntrack, flow: HandWrittenFlow): void {
  unlink(conntrack, flow.from, flow.to);
  unlink(conntrack, flow.to, flow.from);
}

function sweepFlows(conntrack: HandWrittenConntrack, jiffies: number): void {
  conntrack.lastSweep = jiffies;
  const expired: HandWrittenFlow[] = [];
  for (const [from, others] of conntrack.ends) for (const flow of others.values()) if (flow.from === from && flow.timeout - jiffies <= 0) expired.push(flow);
  for (const flow of expired) forget(conntrack, flow);
}

/** The default ruleset behind conntrack: true = accepted. */
export function decideWithConntrack(state: HandWrittenState, conntrack: HandWrittenConntrack, packet: Packet, jiffies: number): boolean {
  if (packet.protocol !== 17) return decideDefaultRuleset(state, packet, jiffies);
  if (jiffies - conntrack.lastSweep > conntrack.sweepJiffies) sweepFlows(conntrack, jiffies);
  const from = packet.src * 65536 + packet.sport;
  const to = packet.dst * 65536 + packet.dport;
  let flow = conntrack.ends.get(from)?.get(to);
  if (flow && flow.timeout - jiffies <= 0) {
    forget(conntrack, flow);
    flow = undefined;
  } else if (flow) flow.timeout = jiffies + conntrack.timeoutJiffies;
  const accepted = decideDefaultRuleset(state, packet, jiffies);
  if (accepted && !flow) {
    const made: HandWrittenFlow = { from, to, timeout: jiffies + conntrack.timeoutJiffies };
    link(conntrack, from, to, made);
    link(conntrack, to, from, made);
  }
  return accepted;
}
