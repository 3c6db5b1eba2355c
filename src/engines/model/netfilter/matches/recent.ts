import { formatIpv4, parseIpv4 } from "../../../../net/address.js";
import { formatAddress, ipv6BytesOf, ipv6Number, isIpv6Number } from "../../../../net/address-number.js";
import { ipv6MaskPrefix, parseIpv6 } from "../../../../net/ipv6-address.js";
import { prefixKey } from "./address-prefix.js";
import type { Packet } from "../../../../net/packet.js";
import type { MatchFactory, MatchState } from "../match.js";
import { MatchOptions } from "./match-options.js";

/**
 * XT_RECENT_MAX_NSTAMPS (xt_recent.c since the timestamp ring became u16):
 * a hitcount must stay below it. Checked on the lab's Linux 6.18: 65535 loads,
 * 65536 is refused with EINVAL.
 */
export const XT_RECENT_MAX_NSTAMPS = 65536;

interface RecentEntry {
  /** The masked address, as printed. */
  address: number;
  /** Its key in the table's map (see keyOf). */
  key: number;
  ttl: number;
  /** The timestamp ring, grown as it fills (most entries see a few packets; the ring is allocated in full by the kernel). */
  readonly stamps: number[];
  nstamps: number;
  index: number;
  /** LRU neighbours: head = least recently updated (evicted first). */
  previous: RecentEntry | null;
  next: RecentEntry | null;
}

export interface RecentTable {
  readonly name: string;
  /** The mask of the rule that created the table: recent_mt masks with t->mask, not the rule's. */
  readonly mask: number;
  /** The same for IPv6 sources: the number of the address under the table's 16-byte mask. */
  readonly key6: (address: number) => number;
  nstampsMaxMask: number;
  readonly entries: Map<number, RecentEntry>;
  head: RecentEntry | null;
  tail: RecentEntry | null;
}

const tableKey = (name: string) => `recent:${name}`;

function detach(table: RecentTable, entry: RecentEntry): void {
  if (entry.previous) entry.previous.next = entry.next;
  else table.head = entry.next;
  if (entry.next) entry.next.previous = entry.previous;
  else table.tail = entry.previous;
  entry.previous = null;
  entry.next = null;
}

function appendTail(table: RecentTable, entry: RecentEntry): void {
  entry.previous = table.tail;
  entry.next = null;
  if (table.tail) table.tail.next = entry;
  else table.head = entry;
  table.tail = entry;
}

function removeEntry(table: RecentTable, entry: RecentEntry): void {
  detach(table, entry);
  table.entries.delete(entry.key);
}

/**
 * recent_entry_init: a full table evicts the least recently updated entry
 * first. The evicted entry's record is filled again for the new address (the
 * kernel frees one and allocates the other): a flood of new sources evicts
 * an entry per packet, and a record made per packet was garbage made per
 * packet. Its ring keeps its length; only its first `nstamps` are read.
 */
function initEntry(table: RecentTable, key: number, ttl: number, jiffies: number, listLimit: number): RecentEntry {
  const evicted = table.entries.size >= listLimit ? table.head : null;
  if (evicted) removeEntry(table, evicted);
  const entry: RecentEntry = evicted ?? { address: 0, key: 0, ttl: 0, stamps: [], nstamps: 0, index: 0, previous: null, next: null };
  entry.address = addressOfKey(key);
  entry.key = key;
  entry.ttl = ttl;
  entry.stamps[0] = jiffies;
  entry.nstamps = 1;
  entry.index = 1;
  table.entries.set(key, entry);
  appendTail(table, entry);
  return entry;
}

/** recent_entry_update: write the next ring slot and move to the LRU tail. */
function updateEntry(table: RecentTable, entry: RecentEntry, jiffies: number): void {
  entry.index &= table.nstampsMaxMask;
  entry.stamps[entry.index++] = jiffies;
  if (entry.index > entry.nstamps) entry.nstamps = entry.index;
  if (table.tail !== entry) {
    detach(table, entry);
    appendTail(table, entry);
  }
}

/**
 * An address's key in a table: IPv4 masked as a signed 32-bit number, which
 * V8 keeps as a small integer (an unsigned one above 2^31 is a heap number,
 * hashed as a double on every lookup); IPv6 its masked number, from 2^32 up.
 */
function keyOf(table: RecentTable, family: 4 | 6 | undefined, address: number): number {
  return family === 6 ? table.key6(address) : address & table.mask;
}

function addressOfKey(key: number): number {
  return key < 0 ? key >>> 0 : key;
}

/** recent_mt_check's ring size: ip_pkt_list_tot or the hitcount, rounded up to a power of two. */
function nstampMaskFor(hitCount: number, ipPktListTot: number): number {
  const roundUp = (n: number) => 2 ** Math.ceil(Math.log2(n));
  if (ipPktListTot && hitCount < ipPktListTot) return roundUp(ipPktListTot) - 1;
  if (hitCount) return roundUp(hitCount) - 1;
  return 32 - 1;
}

function tableFor(state: MatchState, name: string, mask16: Uint8Array, nstampMask: number): RecentTable {
  const existing = state.tables.get(tableKey(name)) as RecentTable | undefined;
  if (existing) {
    if (nstampMask > existing.nstampsMaxMask) {
      // recent_table_flush: a rule needing a longer ring empties the table.
      existing.entries.clear();
      existing.head = null;
      existing.tail = null;
      existing.nstampsMaxMask = nstampMask;
    }
    return existing;
  }
  const mask = new DataView(mask16.buffer, mask16.byteOffset).getUint32(0);
  const table: RecentTable = { name, mask, key6: ipv6Keyer(mask16), nstampsMaxMask: nstampMask, entries: new Map(), head: null, tail: null };
  state.tables.set(tableKey(name), table);
  return table;
}

/**
 * `-m recent` as recent_mt / recent_mt_check in net/netfilter/xt_recent.c:
 * one of --set/--rcheck/--update/--remove; --seconds counts stamps not older
 * than jiffies - seconds*HZ; --hitcount needs that many; --update refreshes
 * only when the (possibly inverted) result is true; --reap drops the LRU head
 * if its newest stamp is outside the window; a full table evicts its LRU head.
 */
export const recentMatch: MatchFactory = (rawOptions, state, where) => {
  const options = new MatchOptions("recent", rawOptions, where);
  const commands = (["set", "rcheck", "update", "remove"] as const).filter((name) => options.has(name));
  if (commands.length !== 1) throw options.error(`give exactly one of --set, --rcheck, --update, --remove (got ${commands.length ? commands.map((c) => `--${c}`).join(" ") : "none"})`);
  const command = commands[0]!;
  const invert = options.get(command)!.negated;
  const seconds = options.integer("seconds", 0, 0, 0xffffffff);
  const hitCount = options.integer("hitcount", 0, 0, 0xffffffff);
  const reap = options.has("reap");
  const checkTtl = options.has("rttl");
  if ((command === "set" || command === "remove") && (seconds || hitCount || reap || checkTtl)) {
    throw options.error(`--seconds, --hitcount, --reap and --rttl only go with --rcheck or --update (the kernel rejects them with --${command})`);
  }
  if (reap && !seconds) throw options.error(`--reap needs --seconds`);
  if (hitCount >= XT_RECENT_MAX_NSTAMPS) {
    throw options.error(`--hitcount ${hitCount} is larger than the allowed maximum ${XT_RECENT_MAX_NSTAMPS - 1} (XT_RECENT_MAX_NSTAMPS - 1 in xt_recent.c)`);
  }
  // libxt_recent keeps the first XT_RECENT_NAME_LEN - 1 (199) characters of a longer name.
  const name = (options.value("name") ?? "DEFAULT").slice(0, 199);
  if (name.length === 0 || name.length >= 200 || name === "." || name === ".." || name.includes("/")) throw options.error(`--name "${name}" is not a valid proc file name`);
  /*
   * The rule's mask as the kernel holds it, an nf_inet_addr of 16 bytes: all
   * ones without --mask; an IPv4 --mask fills its first 4 bytes and zeroes the
   * rest. A list's mask is that of the rule that created it, whichever family:
   * measured on Linux 6.18, an iptables rule's --mask 255.255.255.255 makes
   * ip6tables' packets in the same list count per /32, and an ip6tables
   * rule's ffff:ff00:: makes iptables' count per /24.
   */
  const maskText = options.value("mask");
  let mask16: Uint8Array = new Uint8Array(16).fill(0xff);
  if (maskText !== undefined && where.family === 6) {
    try {
      mask16 = parseIpv6(maskText);
    } catch {
      throw options.error(`--mask ${maskText}: expected an IPv6 mask such as ffff:ffff:ffff:ffff:: (a /64)`);
    }
  } else if (maskText !== undefined) {
    let mask4: number;
    try {
      mask4 = parseIpv4(maskText);
    } catch {
      throw options.error(`--mask ${maskText}: expected a dotted IPv4 mask such as 255.255.255.0`);
    }
    mask16 = new Uint8Array(16);
    new DataView(mask16.buffer).setUint32(0, mask4);
  }
  const useDestination = options.has("rdest");
  const table = tableFor(state, name, mask16, nstampMaskFor(hitCount, state.settings.recentIpPktListTot));
  const listLimit = state.settings.recentIpListTot;
  const windowJiffies = seconds * state.settings.hz;

  return (packet, context) => {
    const jiffies = context.jiffies;
    const unmasked = useDestination ? packet.dst : packet.src;
    const key = keyOf(table, packet.family, unmasked);
    // "use TTL as seen before forwarding": forwarded packets get their TTL back.
    const ttl = context.hook === "FORWARD" ? (packet.ttl + 1) & 0xff : packet.ttl;
    let ret = invert;
    const found = table.entries.get(key);
    const entry = found && (!checkTtl || ttl === found.ttl || found.ttl === 0) ? found : undefined;
    if (!entry) {
      if (command !== "set") return ret;
      initEntry(table, key, ttl, jiffies, listLimit);
      return !ret;
    }
    if (command === "set") ret = !ret;
    else if (command === "remove") {
      removeEntry(table, entry);
      return !ret;
    } else {
      const since = jiffies - windowJiffies;
      let hits = 0;
      for (let i = 0; i < entry.nstamps; i++) {
        // time_after(time, stamp) skips stamps older than the window.
        if (seconds && since > entry.stamps[i]!) continue;
        if (!hitCount || ++hits >= hitCount) {
          ret = !ret;
          break;
        }
      }
      if (reap) reapHead(table, since, entry);
    }
    if (command === "set" || (command === "update" && ret)) {
      updateEntry(table, entry, jiffies);
      entry.ttl = ttl;
    }
    return ret;
  };
};

/** IPv6 sources keyed by a 16-byte mask: a prefix's arithmetic, or any mask byte by byte. */
function ipv6Keyer(mask16: Uint8Array): (address: number) => number {
  const prefix = ipv6MaskPrefix(mask16);
  if (prefix !== null) return prefixKey(6, prefix);
  const keys = new Map<number, number>();
  return (address) => {
    let key = keys.get(address);
    if (key === undefined) {
      key = ipv6Number(ipv6BytesOf(address).map((byte, index) => byte & mask16[index]!));
      keys.set(address, key);
    }
    return key;
  };
}

/** recent_entry_reap: the LRU head goes if its newest stamp is outside the window (never the entry in use). */
function reapHead(table: RecentTable, since: number, working: RecentEntry): void {
  const head = table.head;
  if (!head || head === working) return;
  if (since > head.stamps[(head.index - 1) & table.nstampsMaxMask]!) removeEntry(table, head);
}

/** The table as /proc/net/xt_recent/NAME prints it (recent_seq_show), in LRU order. */
export function dumpRecentTable(state: MatchState, name: string): string {
  const table = state.tables.get(tableKey(name)) as RecentTable | undefined;
  if (!table) return "";
  const lines: string[] = [];
  for (let entry = table.head; entry; entry = entry.next) {
    const last = entry.stamps[(entry.index - 1) & table.nstampsMaxMask]!;
    const stamps = entry.stamps.slice(0, entry.nstamps).map((stamp, i) => `${i ? "," : ""} ${stamp}`).join("");
    lines.push(`src=${procAddress(entry.address)} ttl: ${entry.ttl} last_seen: ${last} oldest_pkt: ${entry.index}${stamps}`);
  }
  return lines.join("\n");
}

/** recent_seq_show prints IPv4 as %pI4 and IPv6 as %pI6: all eight groups, four digits each. */
function procAddress(address: number): string {
  if (!isIpv6Number(address)) return formatIpv4(address);
  const bytes = ipv6BytesOf(address);
  return Array.from({ length: 8 }, (_, group) => ((bytes[group * 2]! << 8) | bytes[group * 2 + 1]!).toString(16).padStart(4, "0")).join(":");
}

/** Newest stamps shown for an entry; a long ring says little more. */
const STAMPS_SHOWN = 4;

/**
 * What the table holds for a packet's addresses just before it is judged:
 * its entry's newest stamps, as seconds before `jiffies`, and the table's size.
 */
export function describeRecentFor(state: MatchState, name: string, packet: Packet, jiffies: number): string {
  const table = state.tables.get(tableKey(name)) as RecentTable | undefined;
  if (!table) return "";
  const listed = [packet.src, packet.dst].map((address) => table.entries.get(keyOf(table, packet.family, address))).find((entry) => entry !== undefined);
  const size = `${table.entries.size} ${table.entries.size === 1 ? "entry" : "entries"}`;
  if (!listed) return `recent ${name}: ${formatAddress(addressOfKey(keyOf(table, packet.family, packet.src)))} not listed (${size})`;
  const newestFirst = Array.from({ length: listed.nstamps }, (_, back) => listed.stamps[(listed.index - 1 - back) & table.nstampsMaxMask]!);
  const ago = newestFirst.slice(0, STAMPS_SHOWN).map((stamp) => `${((jiffies - stamp) / state.settings.hz).toFixed(3)}`);
  const more = listed.nstamps > STAMPS_SHOWN ? `, ${listed.nstamps - STAMPS_SHOWN} older` : "";
  return `recent ${name}: ${formatAddress(listed.address)} seen ${ago.join(", ")} s ago${more} (${size})`;
}

/** Names of the recent tables a compiled ruleset created. */
export function recentTableNames(state: MatchState): string[] {
  return [...state.tables.keys()].filter((key) => key.startsWith("recent:")).map((key) => key.slice("recent:".length));
}
