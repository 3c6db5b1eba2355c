import { formatAddress } from "../../net/address-number.js";
import type { Packet } from "../../net/packet.js";
import type { KernelSettings } from "./kernel-settings.js";
import type { ConnectionTracker, TrackedPacket } from "./netfilter/interpreter.js";
import type { ConnectionMarks, CtState, Hook, PacketContext } from "./netfilter/match.js";
import type { ConnectionNat, ManipType, NatEndpoint } from "./netfilter/nat.js";
import { readTcpSegment, TcpTracking, type TcpTimeouts } from "./tcp-conntrack.js";

/**
 * One connection: its original tuple, its NAT bindings (which make its reply
 * tuple, as nf_nat_setup_info does), its timers and marks.
 */
class ConntrackEntry implements ConnectionNat, ConnectionMarks {
  /**
   * Absolute jiffies at which the entry dies (ct->timeout once confirmed).
   * A number from the start: a field whose first value is no number (as
   * undefined was under define semantics) holds each later number as a heap
   * object of its own, and jiffies (over 2^31) are no small integers, so
   * every packet's refresh made garbage.
   */
  timeout = 0;
  /** jiffies after which a replied flow counts as a stream (ct->proto.udp.stream_ts). */
  streamAfter = 0;
  seenReply = false;
  assured = false;
  confirmed = false;
  /** ct->mark, which CONNMARK sets and -m connmark reads. */
  mark = 0;
  /** ct->proto.tcp for a TCP connection. */
  tcp: TcpTracking | null = null;
  /** Where the nat table mapped each end: undefined until it decided (IPS_*_NAT_DONE), null for no mapping. */
  private dnat: NatEndpoint | null | undefined;
  private snat: NatEndpoint | null | undefined;

  constructor(
    readonly protocol: number,
    readonly src: number,
    readonly sport: number,
    readonly dst: number,
    readonly dport: number,
    timeout: number,
    streamAfter: number,
    /** The helper CT --helper gave the connection when it was created (nft's `ct helper set` may give it one before it is confirmed). */
    public helper: string,
  ) {
    this.timeout = timeout;
    this.streamAfter = streamAfter;
  }

  initialized(type: ManipType): boolean {
    return (type === "dst" ? this.dnat : this.snat) !== undefined;
  }

  bind(type: ManipType, to: NatEndpoint | null): void {
    if (type === "dst") this.dnat = to;
    else this.snat = to;
  }

  rewrite(type: ManipType, reply: boolean): NatEndpoint | null {
    if (type === "dst") return reply ? (this.snat ? { address: this.src, port: this.sport } : null) : (this.dnat ?? null);
    return reply ? (this.dnat ? { address: this.dst, port: this.dport } : null) : (this.snat ?? null);
  }

  /** nf_nat_setup_info sets IPS_*_NAT only when the mapping changed the tuple. */
  readonly natted = (end: ManipType): boolean => {
    const to = end === "dst" ? this.dnat : this.snat;
    return to ? (end === "dst" ? to.address !== this.dst || to.port !== this.dport : to.address !== this.src || to.port !== this.sport) : false;
  };

  /** The reply direction's source and destination (the reply tuple). */
  get replyFrom(): NatEndpoint {
    return this.dnat ?? { address: this.dst, port: this.dport };
  }

  get replyTo(): NatEndpoint {
    return this.snat ?? { address: this.src, port: this.sport };
  }
}

/** What conntrack decided for one packet, before the filter runs. */
export interface CtClassification {
  readonly state: CtState;
  readonly reply: boolean;
  readonly seenReply: boolean;
  readonly assured: boolean;
  /** The entry (new and unconfirmed for a NEW packet); commit() confirms it if the filter accepted. */
  readonly entry: ConntrackEntry | null;
  /** When conntrack saw the packet, and the packet: a helper's work on it at commit() reads them. */
  readonly jiffies?: number;
  readonly packet?: Packet;
}

/** What the filter table knows of a packet once conntrack has classified it, at a hook. */
export function contextAfterConntrack(classification: CtClassification, jiffies: number, hook: Hook, outInterface: string, clockNs?: number): PacketContext {
  return {
    jiffies,
    ...(clockNs === undefined ? {} : { clockNs }),
    ctState: classification.state,
    ctReply: classification.reply,
    ctSeenReply: classification.seenReply,
    ctAssured: classification.assured,
    outInterface: hook === "INPUT" || hook === "PREROUTING" ? "" : outInterface,
    hook,
    connection: classification.entry,
  };
}

export const UNTRACKED: CtClassification = { state: "UNTRACKED", reply: false, seenReply: false, assured: false, entry: null };

/** A classification that is also the route's view of it (TrackedPacket): the tracker hands the route its one record, no copy. */
type MutableClassification = { -readonly [K in keyof CtClassification]: CtClassification[K] } & { connection: ConntrackEntry | null; nat: ConntrackEntry | null };

function newClassification(): MutableClassification {
  return { state: "UNTRACKED", reply: false, seenReply: false, assured: false, entry: null, jiffies: 0, packet: undefined, connection: null, nat: null };
}

/** nf_conntrack_sip's sip_timeout: how long a flow its helper saw a message on lasts (SIP_TIMEOUT, seconds). */
const SIP_HELPER_TIMEOUT_SECONDS = 3600;

/** The bytes after a UDP or TCP packet's transport header. */
function payloadBytes(packet: Packet): number {
  const transportHeader = packet.protocol === 17 ? 8 : ((packet.bytes[packet.headerLength + 12] ?? 0) >> 4) * 4;
  return packet.bytes.length - packet.headerLength - transportHeader;
}

/** `out` as conntrack left the packet (INVALID: nf_conntrack_in refused it, no entry). */
function fill(out: MutableClassification, state: CtState, reply: boolean, entry: ConntrackEntry | null): CtClassification {
  out.state = state;
  out.reply = reply;
  out.seenReply = entry !== null && entry.seenReply;
  out.assured = entry !== null && entry.assured;
  out.entry = entry;
  out.connection = entry;
  out.nat = entry;
  return out;
}

/**
 * The UDP connection tracker as nf_conntrack_core.c (resolve_normal_ct,
 * __nf_conntrack_confirm) and nf_conntrack_proto_udp.c
 * (nf_conntrack_udp_packet) run it for the model:
 * - a packet without an entry is NEW; its entry exists only once confirmed,
 *   which happens after the filter accepted it, so a dropped NEW packet leaves
 *   nothing behind;
 * - original-direction packets stay NEW until a reply has been seen
 *   (IPS_SEEN_REPLY), then are ESTABLISHED; reply packets are ESTABLISHED;
 * - every packet of a confirmed entry refreshes its timeout before the filter
 *   runs (dropped or not): 30 s until replied, then 120 s once the flow is
 *   older than 2 s (stream), which also sets ASSURED.
 * TCP connections follow nf_conntrack_proto_tcp.c's state machine instead
 * (see tcp-conntrack.ts): states, per-state timeouts, INVALID segments.
 */
export class ConntrackTable {
  /** Each direction of each flow by its tuple, as the kernel's hash holds them. */
  private readonly tuples = new TupleIndex();
  private readonly unrepliedJiffies: number;
  private readonly streamJiffies: number;
  private readonly hz: number;
  private readonly tcpLoose: boolean;
  private readonly tcpTimeouts: TcpTimeouts;
  private entries = 0;
  private lastSweep = -Infinity;

  constructor(settings: KernelSettings) {
    this.hz = settings.hz;
    this.unrepliedJiffies = settings.conntrackUdpTimeoutSeconds * settings.hz;
    this.streamJiffies = settings.conntrackUdpTimeoutStreamSeconds * settings.hz;
    this.tcpLoose = settings.conntrackTcpLoose;
    this.tcpTimeouts = settings.conntrackTcpTimeouts;
  }

  /** `helper` is what CT --helper in raw gave the packet, for the entry a NEW packet creates. */
  classify(packet: Packet, jiffies: number, helper = ""): CtClassification {
    return this.classifyInto(newClassification(), packet, jiffies, helper);
  }

  /**
   * classify() into `out`, which it returns: the route's tracker refills one
   * record per packet rather than making one (a verdict a packet, a record
   * a packet, is what the filter path's speed is spent on).
   */
  private classifyInto(out: MutableClassification, packet: Packet, jiffies: number, helper: string): CtClassification {
    out.jiffies = jiffies;
    out.packet = packet;
    if (packet.protocol !== 17 && packet.protocol !== 6) return fill(out, "UNTRACKED", false, null);
    if (jiffies - this.lastSweep > 60 * this.hz) this.sweep(jiffies);
    if (packet.protocol === 6) return this.classifyTcp(out, packet, jiffies, helper);
    const found = this.lookup(packet.protocol, packet.src, packet.sport, packet.dst, packet.dport);
    if (found && found.entry.timeout - jiffies <= 0) {
      // nf_ct_is_expired: a timed-out entry is gone before it can match.
      this.remove(found.entry);
    } else if (found) {
      const entry = found.entry;
      const state: CtState = found.reply || entry.seenReply ? "ESTABLISHED" : "NEW";
      this.refresh(entry, jiffies);
      // IPS_SEEN_REPLY is set in nf_conntrack_in after the protocol handler, for the reply packet itself.
      if (found.reply) entry.seenReply = true;
      return fill(out, state, found.reply, entry);
    }
    const entry = new ConntrackEntry(packet.protocol, packet.src, packet.sport, packet.dst, packet.dport, jiffies + this.unrepliedJiffies, jiffies + 2 * this.hz, helper);
    return fill(out, "NEW", false, entry);
  }

  /** resolve_normal_ct and nf_conntrack_tcp_packet for one TCP segment. */
  private classifyTcp(out: MutableClassification, packet: Packet, jiffies: number, helper: string): CtClassification {
    const segment = readTcpSegment(packet);
    if (!segment) return fill(out, "INVALID", false, null);
    let found = this.lookup(packet.protocol, packet.src, packet.sport, packet.dst, packet.dport);
    if (found && found.entry.timeout - jiffies <= 0) {
      this.remove(found.entry);
      found = undefined;
    }
    if (found) {
      const { entry, reply } = found;
      const state: CtState = reply || entry.seenReply ? "ESTABLISHED" : "NEW";
      const step = entry.tcp!.step(segment, reply, entry.seenReply, entry.assured, this.tcpTimeouts);
      if (step.kind === "invalid") return fill(out, "INVALID", false, null);
      if (step.kind === "reopen") {
        // nf_ct_kill, then NF_REPEAT: the SYN is tracked again as a new connection.
        this.remove(entry);
      } else {
        // Accepted, ignored or ending the entry, the segment passes as the entry's: a reply sets SEEN_REPLY (nf_conntrack_in).
        if (step.kind === "kill") this.remove(entry);
        if (step.kind === "accept") {
          if (step.timeoutSeconds !== null) entry.timeout = jiffies + step.timeoutSeconds * this.hz;
          if (step.assure) entry.assured = true;
        }
        if (reply) entry.seenReply = true;
        return fill(out, state, reply, entry);
      }
    }
    if (!TcpTracking.opens(segment, this.tcpLoose)) return fill(out, "INVALID", false, null);
    const entry = new ConntrackEntry(packet.protocol, packet.src, packet.sport, packet.dst, packet.dport, jiffies, jiffies, helper);
    entry.tcp = new TcpTracking();
    const step = entry.tcp.step(segment, false, false, false, this.tcpTimeouts);
    if (step.kind !== "accept") return fill(out, "INVALID", false, null);
    entry.timeout = jiffies + (step.timeoutSeconds ?? this.tcpTimeouts.synSent) * this.hz;
    return fill(out, "NEW", false, entry);
  }

  /** __nf_conntrack_confirm: called only for packets the filter accepted. */
  commit(classification: CtClassification): void {
    const entry = classification.entry;
    if (!entry) return;
    // sip_help_udp and sip_help_tcp, run as an accepted packet leaves (nf_confirm): one with a payload keeps its flow for sip_timeout.
    if (entry.helper === "sip" && classification.packet && payloadBytes(classification.packet) > 0) entry.timeout = (classification.jiffies ?? 0) + SIP_HELPER_TIMEOUT_SECONDS * this.hz;
    if (entry.confirmed) return;
    entry.confirmed = true;
    this.insert(entry);
  }

  /**
   * The conntrack step of a firewall's route, judging at `jiffies`; `last()`
   * is what it classified, for commit() once the route accepted.
   */
  tracker(): ConnectionTracker & { at(jiffies: number): void; last(): CtClassification } {
    // The time in a typed array: a closure's variable holds a number over 2^31 (jiffies are) as a heap object made per store.
    const clock = new Float64Array(1);
    // One record, refilled for each packet and read by the route as its view: the route and its caller read it before the next packet is tracked.
    const classification = newClassification();
    let tracked = false;
    return {
      at: (now) => {
        clock[0] = now;
        tracked = false;
      },
      // A packet the route never brought to conntrack (raw's NOTRACK, a drop before it) has no entry to confirm.
      last: () => (tracked ? classification : UNTRACKED),
      track: (packet, skb): TrackedPacket => {
        tracked = true;
        this.classifyInto(classification, packet, clock[0]!, skb.helper);
        return classification;
      },
    };
  }

  size(): number {
    return this.entries;
  }

  /** Entries as `conntrack -L` prints them, roughly, for reports. */
  dump(jiffies: number): string[] {
    const lines: string[] = [];
    for (const entry of this.tuples.originals()) {
      const protocol = entry.protocol === 17 ? "udp      17" : "tcp      6";
      const seconds = Math.max(0, Math.ceil((entry.timeout - jiffies) / this.hz));
      const flags = `${entry.seenReply ? "" : " [UNREPLIED]"}${entry.assured ? " [ASSURED]" : ""}`;
      const from = entry.replyFrom;
      const to = entry.replyTo;
      lines.push(
        `${protocol} ${seconds}${entry.tcp ? ` ${entry.tcp.stateName}` : ""} src=${formatAddress(entry.src)} dst=${formatAddress(entry.dst)} sport=${entry.sport} dport=${entry.dport}${flags} src=${formatAddress(from.address)} dst=${formatAddress(to.address)} sport=${from.port} dport=${to.port}`,
      );
    }
    return lines;
  }

  /** nf_conntrack_udp_packet's timeout refresh. */
  private refresh(entry: ConntrackEntry, jiffies: number): void {
    if (entry.seenReply) {
      let extra = this.unrepliedJiffies;
      if (jiffies > entry.streamAfter) {
        extra = this.streamJiffies;
        entry.assured = true;
      }
      entry.timeout = jiffies + extra;
    } else {
      entry.timeout = jiffies + this.unrepliedJiffies;
    }
  }

  private lookup(protocol: number, src: number, sport: number, dst: number, dport: number): TupleNode | undefined {
    return this.tuples.find(protocol, src, sport, dst, dport);
  }

  private insert(entry: ConntrackEntry): void {
    const from = entry.replyFrom;
    const to = entry.replyTo;
    this.tuples.add(entry, false, entry.src, entry.sport, entry.dst, entry.dport);
    this.tuples.add(entry, true, from.address, from.port, to.address, to.port);
    this.entries++;
  }

  private remove(entry: ConntrackEntry): void {
    const from = entry.replyFrom;
    const to = entry.replyTo;
    this.tuples.delete(entry, false, entry.src, entry.sport, entry.dst, entry.dport);
    this.tuples.delete(entry, true, from.address, from.port, to.address, to.port);
    this.entries--;
  }

  /** The kernel's GC worker frees expired entries in the background; this keeps memory bounded the same way. */
  private sweep(jiffies: number): void {
    this.lastSweep = jiffies;
    const expired: ConntrackEntry[] = [];
    for (const entry of this.tuples.originals()) if (entry.timeout - jiffies <= 0) expired.push(entry);
    for (const entry of expired) this.remove(entry);
  }
}

/** One direction of a connection under its tuple (nf_conntrack_tuple_hash); tuples of one bucket chain through `next`. */
class TupleNode {
  next: TupleNode | null = null;

  constructor(
    readonly entry: ConntrackEntry,
    readonly reply: boolean,
    readonly src: number,
    readonly sport: number,
    readonly dst: number,
    readonly dport: number,
    readonly hash: number,
  ) {}
}

/** Buckets a new table starts with; it doubles when it holds more tuples than buckets. */
const INITIAL_BUCKETS = 1024;

/**
 * Tuples in a table of buckets by a 32-bit hash of their ends, chained, as
 * the kernel's nf_conntrack_hash holds them: a bucket is an array slot, where
 * a Map keyed by the hash (a small integer) cost a hash of the hash and a
 * walk of the Map's own chain per packet, and before that a Map per end
 * keyed by address x 65536 + port (a double above 2^31) two lookups hashing
 * doubles. The table doubles as it fills (the kernel sizes its table at
 * boot; the model's has no fixed bound to size for). The protocol is part
 * of the tuple, as in the kernel: UDP and TCP between the same ends are two
 * flows.
 */
class TupleIndex {
  private buckets: Array<TupleNode | null> = new Array<TupleNode | null>(INITIAL_BUCKETS).fill(null);
  private mask = INITIAL_BUCKETS - 1;
  private tuples = 0;

  find(protocol: number, src: number, sport: number, dst: number, dport: number): TupleNode | undefined {
    for (let node: TupleNode | null = this.buckets[tupleHash(src, sport, dst, dport) & this.mask] ?? null; node; node = node.next) {
      if (node.src === src && node.sport === sport && node.dst === dst && node.dport === dport && node.entry.protocol === protocol) return node;
    }
    return undefined;
  }

  add(entry: ConntrackEntry, reply: boolean, src: number, sport: number, dst: number, dport: number): void {
    if (++this.tuples > this.buckets.length) this.grow();
    const node = new TupleNode(entry, reply, src, sport, dst, dport, tupleHash(src, sport, dst, dport));
    const bucket = node.hash & this.mask;
    node.next = this.buckets[bucket] ?? null;
    this.buckets[bucket] = node;
  }

  delete(entry: ConntrackEntry, reply: boolean, src: number, sport: number, dst: number, dport: number): void {
    const bucket = tupleHash(src, sport, dst, dport) & this.mask;
    let previous: TupleNode | null = null;
    for (let node: TupleNode | null = this.buckets[bucket] ?? null; node; previous = node, node = node.next) {
      if (node.entry !== entry || node.reply !== reply) continue;
      if (previous) previous.next = node.next;
      else this.buckets[bucket] = node.next;
      this.tuples--;
      return;
    }
  }

  /** Each connection once, by its original direction. */
  *originals(): Generator<ConntrackEntry> {
    for (const head of this.buckets) for (let node = head; node; node = node.next) if (!node.reply) yield node.entry;
  }

  private grow(): void {
    const old = this.buckets;
    this.buckets = new Array<TupleNode | null>(old.length * 2).fill(null);
    this.mask = this.buckets.length - 1;
    for (const head of old) {
      for (let node = head; node; ) {
        const next: TupleNode | null = node.next;
        const bucket = node.hash & this.mask;
        node.next = this.buckets[bucket] ?? null;
        this.buckets[bucket] = node;
        node = next;
      }
    }
  }
}

/** A tuple's hash: IPv6 numbers (2^32 up) hash by their low bits; the chain tells any two apart. */
function tupleHash(src: number, sport: number, dst: number, dport: number): number {
  const ends = Math.imul((src | 0) ^ Math.imul(sport, 0x10001), 0x9e3779b1) ^ (dst | 0);
  const mixed = Math.imul(ends ^ Math.imul(dport, 0x2545f491), 0x85ebca6b);
  return mixed ^ (mixed >>> 16);
}
