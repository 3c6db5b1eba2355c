import type { Packet } from "../../../../net/packet.js";
import { hotdropOf, type MatchFactory, type MatchState } from "../match.js";
import { fullPrefix, prefixKey } from "./address-prefix.js";
import { MatchOptions } from "./match-options.js";
import { parseRate } from "./rate.js";

/** XT_HASHLIMIT_SCALE_v2: revisions 2 and 3, which iptables 1.8 uses. */
const SCALE = 1_000_000n;
/** libxt_hashlimit defaults. */
const DEFAULT_BURST = 5;
const DEFAULT_EXPIRE_MS = 10_000;
const DEFAULT_GC_MS = 1_000;
/** htable_create's bucket count with no --hashlimit-htable-size on a machine with over 1 GiB of RAM; max is 8 times it. */
const DEFAULT_HTABLE_SIZE = 8192;

interface Bucket {
  credit: bigint;
  previous: number;
  expires: number;
}

interface HashlimitTable {
  readonly name: string;
  readonly mode: { srcip: boolean; dstip: boolean; srcport: boolean; dstport: boolean };
  /** The source and destination as the table keys them (--hashlimit-srcmask, --hashlimit-dstmask). */
  readonly srcKey: (address: number) => number;
  readonly dstKey: (address: number) => number;
  readonly cost: bigint;
  readonly cap: bigint;
  readonly expireJiffies: number;
  readonly gcJiffies: number;
  readonly createdAt: number;
  readonly max: number;
  readonly buckets: Map<string, Bucket>;
}

/** CREDITS_PER_JIFFY = POW2_BELOW64(0xFFFFFFFFFFFFFFFF / (HZ*60*60*24)). */
function creditsPerJiffy(hz: number): bigint {
  const max = 0xffffffffffffffffn / BigInt(hz * 86400);
  let power = 1n;
  while (power * 2n <= max) power *= 2n;
  return power;
}

/** user2credits for revision >= 2, dividing the constants first as the kernel does. */
function user2credits(user: bigint, hz: number, cpj: bigint): bigint {
  const hzCpj = BigInt(hz) * cpj;
  if (SCALE >= hzCpj) return user / (SCALE / hzCpj);
  return user * (hzCpj / SCALE);
}

/**
 * The entry's key as a string: V8 hashes a BigInt Map key by its low bits only,
 * so srcip-only keys (the source in the high bits) all collided and a table of
 * 20,000 sources took seconds a packet.
 */
function bucketKey(table: HashlimitTable, packet: Packet): string {
  const src = table.mode.srcip ? table.srcKey(packet.src) : 0;
  const dst = table.mode.dstip ? table.dstKey(packet.dst) : 0;
  const sport = table.mode.srcport ? packet.sport : 0;
  const dport = table.mode.dstport ? packet.dport : 0;
  return `${src}/${dst}/${sport}/${dport}`;
}

/** The garbage collector runs every gcinterval from table creation and frees entries whose expiry has passed. */
function collectedBefore(table: HashlimitTable, bucket: Bucket, now: number): boolean {
  if (now < bucket.expires) return false;
  const sinceCreation = bucket.expires - table.createdAt;
  const firstRunAfterExpiry = table.createdAt + Math.ceil(sinceCreation / table.gcJiffies) * table.gcJiffies;
  return firstRunAfterExpiry <= now;
}

/**
 * `-m hashlimit` (net/netfilter/xt_hashlimit.c, revision 3 semantics): one
 * token bucket per hashed key, credits in the kernel's 64-bit units,
 * refilled per jiffy and capped at avg*burst; --hashlimit-above inverts.
 * Tables are shared by name and keep the first rule's configuration
 * (htable_find_get). Idle entries vanish at the first GC run after their
 * expiry, so a returning source starts again with a full bucket.
 */
export const hashlimitMatch: MatchFactory = (rawOptions, state, where) => {
  const options = new MatchOptions("hashlimit", rawOptions, where);
  options.refuse(["hashlimit-rate-match", "hashlimit-rate-interval"]);
  const upto = options.get("hashlimit-upto");
  const above = options.get("hashlimit-above");
  if ((upto ? 1 : 0) + (above ? 1 : 0) !== 1) throw options.error(`give exactly one of --hashlimit-upto and --hashlimit-above`);
  const rateText = (upto ?? above)!.args[0]!;
  if (/b\//i.test(rateText) || /[kmg]?b$/i.test(rateText)) throw options.error(`byte-based rates (${rateText}) are not interpreted by the model engine; use --engine docker`, "RULESET_UNSUPPORTED");
  const name = options.value("hashlimit-name");
  if (!name) throw options.error(`--hashlimit-name is required`);
  const average = BigInt(parseRate(rateText, Number(SCALE), options, upto ? "hashlimit-upto" : "hashlimit-above"));
  const burst = BigInt(options.integer("hashlimit-burst", DEFAULT_BURST, 1, 0xffffffff));
  const invert = Boolean(above) !== Boolean((upto ?? above)!.negated);
  const hz = state.settings.hz;
  const cpj = creditsPerJiffy(hz);
  if (user2credits(average * burst, hz, cpj) < user2credits(average, hz, cpj)) throw options.error(`rate and burst overflow the kernel's credits ("overflow, try lower")`);
  const family = where.family ?? 4;
  // htable_find_get finds a table by name and family: ip6tables' hashlimit-name is another table than iptables'.
  const table = tableFor(state, family === 6 ? `${name}/ipv6` : name, options, () => {
    const modeText = options.value("hashlimit-mode") ?? "";
    const modes = modeText === "" ? [] : modeText.split(",");
    for (const mode of modes) if (!["srcip", "dstip", "srcport", "dstport"].includes(mode)) throw options.error(`--hashlimit-mode: unknown mode "${mode}" (srcip, dstip, srcport, dstport)`);
    // htable_create: with no size, 8192 buckets on any machine with over 1 GiB of RAM (fewer only on smaller ones).
    const size = options.integer("hashlimit-htable-size", 0, 0, 0xffffffff) || DEFAULT_HTABLE_SIZE;
    const maxOption = options.integer("hashlimit-htable-max", 0, 0, 0xffffffff);
    return {
      name,
      mode: { srcip: modes.includes("srcip"), dstip: modes.includes("dstip"), srcport: modes.includes("srcport"), dstport: modes.includes("dstport") },
      srcKey: prefixKey(family, options.integer("hashlimit-srcmask", fullPrefix(family), 0, fullPrefix(family))),
      dstKey: prefixKey(family, options.integer("hashlimit-dstmask", fullPrefix(family), 0, fullPrefix(family))),
      cost: user2credits(average, hz, cpj),
      cap: user2credits(average * burst, hz, cpj),
      expireJiffies: msecsToJiffies(options.integer("hashlimit-htable-expire", DEFAULT_EXPIRE_MS, 1, 0xffffffff), hz),
      gcJiffies: Math.max(1, msecsToJiffies(options.integer("hashlimit-htable-gcinterval", DEFAULT_GC_MS, 1, 0xffffffff), hz)),
      createdAt: state.settings.startJiffies,
      // htable_create: max defaults to 8 * size, and is never below size.
      max: maxOption === 0 ? 8 * size : Math.max(maxOption, size),
      buckets: new Map(),
    };
  });
  const hotdrop = hotdropOf(state);
  return (packet, context) => {
    const now = context.jiffies;
    const key = bucketKey(table, packet);
    let bucket = table.buckets.get(key);
    if (bucket && collectedBefore(table, bucket, now)) {
      table.buckets.delete(key);
      bucket = undefined;
    }
    if (!bucket) {
      if (table.max && table.buckets.size >= table.max) {
        for (const [otherKey, other] of table.buckets) if (collectedBefore(table, other, now)) table.buckets.delete(otherKey);
        // dsthash_alloc_init fails when the table is full ("max count of %u reached"): the kernel hotdrops the packet.
        if (table.buckets.size >= table.max) {
          hotdrop.dropped = true;
          hotdrop.reason = `hashlimit table ${table.name} is full (--hashlimit-htable-max ${table.max}), so a new source gets no entry and its packet is dropped whatever the rule says`;
          return false;
        }
      }
      bucket = { credit: table.cap, previous: now, expires: now + table.expireJiffies };
      table.buckets.set(key, bucket);
    } else {
      bucket.expires = now + table.expireJiffies;
      const delta = now - bucket.previous;
      if (delta !== 0) {
        bucket.previous = now;
        bucket.credit += BigInt(delta) * cpj;
        if (bucket.credit > table.cap) bucket.credit = table.cap;
      }
    }
    if (bucket.credit >= table.cost) {
      bucket.credit -= table.cost;
      return !invert;
    }
    return invert;
  };
};

function tableFor(state: MatchState, name: string, _options: MatchOptions, create: () => HashlimitTable): HashlimitTable {
  const key = `hashlimit:${name}`;
  const existing = state.tables.get(key) as HashlimitTable | undefined;
  if (existing) return existing;
  const table = create();
  state.tables.set(key, table);
  return table;
}

/** msecs_to_jiffies rounds up. */
function msecsToJiffies(ms: number, hz: number): number {
  return Math.ceil((ms * hz) / 1000);
}

/**
 * A packet's bucket just before it is judged: its credit refilled to `jiffies`
 * as dsthash_find + rateinfo_recalc would, in packets, against the burst.
 */
export function describeHashlimitFor(state: MatchState, name: string, packet: Packet, jiffies: number): string {
  const table = state.tables.get(`hashlimit:${name}`) as HashlimitTable | undefined;
  if (!table) return "";
  const size = `${table.buckets.size} ${table.buckets.size === 1 ? "bucket" : "buckets"}`;
  const burst = Number(table.cap / table.cost);
  const bucket = table.buckets.get(bucketKey(table, packet));
  if (!bucket || collectedBefore(table, bucket, jiffies)) return `hashlimit ${name}: no bucket for this packet, a new one starts full (${burst} packets; ${size})`;
  let credit = bucket.credit + BigInt(Math.max(0, jiffies - bucket.previous)) * creditsPerJiffy(state.settings.hz);
  if (credit > table.cap) credit = table.cap;
  const packets = Number((credit * 100n) / table.cost) / 100;
  return `hashlimit ${name}: ${packets.toFixed(2)} of ${burst} packets' credit, last packet ${((jiffies - bucket.previous) / state.settings.hz).toFixed(3)} s ago (${size})`;
}

/** Entries a hashlimit table holds, as /proc/net/ipt_hashlimit/NAME would list them (count only). */
export function hashlimitEntries(state: MatchState, name: string): number {
  return (state.tables.get(`hashlimit:${name}`) as HashlimitTable | undefined)?.buckets.size ?? 0;
}
