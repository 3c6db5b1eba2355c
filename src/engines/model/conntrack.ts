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
  /** Absolute jiffies at which the entry dies (ct->timeout once confirmed). */
  timeout: number;
  /** jiffies after which a replied flow counts as a stream (ct->proto.udp.stream_ts). */
  streamAfter: number;
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
    /** The helper CT --helper gave the connection when it was created. */
    readonly helper: string,
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

/** A packet conntrack refused (nf_conntrack_in's invalid path): no entry, and --ctstate INVALID. */
const INVALID: CtClassification = { state: "INVALID", reply: false, seenReply: false, assured: false, entry: null };

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
  /** (src << 16 | sport) -> (dst << 16 | dport) -> entry, for each direction of each flow. */
  private readonly flows = new Map<number, Map<number, { entry: ConntrackEntry; reply: boolean }>>();
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
    if (packet.protocol !== 17 && packet.protocol !== 6) return UNTRACKED;
    if (jiffies - this.lastSweep > 60 * this.hz) this.sweep(jiffies);
    if (packet.protocol === 6) return this.classifyTcp(packet, jiffies, helper);
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
      return { state, reply: found.reply, seenReply: entry.seenReply, assured: entry.assured, entry };
    }
    const entry = new ConntrackEntry(packet.protocol, packet.src, packet.sport, packet.dst, packet.dport, jiffies + this.unrepliedJiffies, jiffies + 2 * this.hz, helper);
    return { state: "NEW", reply: false, seenReply: false, assured: false, entry };
  }

  /** resolve_normal_ct and nf_conntrack_tcp_packet for one TCP segment. */
  private classifyTcp(packet: Packet, jiffies: number, helper: string): CtClassification {
    const segment = readTcpSegment(packet);
    if (!segment) return INVALID;
    let found = this.lookup(packet.protocol, packet.src, packet.sport, packet.dst, packet.dport);
    if (found && found.entry.timeout - jiffies <= 0) {
      this.remove(found.entry);
      found = undefined;
    }
    if (found) {
      const { entry, reply } = found;
      const state: CtState = reply || entry.seenReply ? "ESTABLISHED" : "NEW";
      const step = entry.tcp!.step(segment, reply, entry.seenReply, entry.assured, this.tcpTimeouts);
      if (step.kind === "invalid") return INVALID;
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
        return { state, reply, seenReply: entry.seenReply, assured: entry.assured, entry };
      }
    }
    if (!TcpTracking.opens(segment, this.tcpLoose)) return INVALID;
    const entry = new ConntrackEntry(packet.protocol, packet.src, packet.sport, packet.dst, packet.dport, jiffies, jiffies, helper);
    entry.tcp = new TcpTracking();
    const step = entry.tcp.step(segment, false, false, false, this.tcpTimeouts);
    if (step.kind !== "accept") return INVALID;
    entry.timeout = jiffies + (step.timeoutSeconds ?? this.tcpTimeouts.synSent) * this.hz;
    return { state: "NEW", reply: false, seenReply: false, assured: false, entry };
  }

  /** __nf_conntrack_confirm: called only for packets the filter accepted. */
  commit(classification: CtClassification): void {
    const entry = classification.entry;
    if (!entry || entry.confirmed) return;
    entry.confirmed = true;
    this.insert(entry);
  }

  /**
   * The conntrack step of a firewall's route, judging at `jiffies`; `last()`
   * is what it classified, for commit() once the route accepted.
   */
  tracker(): ConnectionTracker & { at(jiffies: number): void; last(): CtClassification } {
    let jiffies = 0;
    let classification: CtClassification = UNTRACKED;
    // One view, refilled for each packet: the route reads it before the next packet is tracked.
    const view: { -readonly [K in keyof TrackedPacket]: TrackedPacket[K] } = { state: "UNTRACKED", reply: false, seenReply: false, assured: false, connection: null, nat: null };
    return {
      at: (now) => {
        jiffies = now;
        classification = UNTRACKED;
      },
      last: () => classification,
      track: (packet, skb): TrackedPacket => {
        classification = this.classify(packet, jiffies, skb.helper);
        view.state = classification.state;
        view.reply = classification.reply;
        view.seenReply = classification.seenReply;
        view.assured = classification.assured;
        view.connection = classification.entry;
        view.nat = classification.entry;
        return view;
      },
    };
  }

  size(): number {
    return this.entries;
  }

  /** Entries as `conntrack -L` prints them, roughly, for reports. */
  dump(jiffies: number): string[] {
    const lines: string[] = [];
    for (const byDestination of this.flows.values()) {
      for (const { entry, reply } of byDestination.values()) {
        if (reply) continue;
        const protocol = entry.protocol === 17 ? "udp      17" : "tcp      6";
        const seconds = Math.max(0, Math.ceil((entry.timeout - jiffies) / this.hz));
        const flags = `${entry.seenReply ? "" : " [UNREPLIED]"}${entry.assured ? " [ASSURED]" : ""}`;
        const from = entry.replyFrom;
        const to = entry.replyTo;
        lines.push(
          `${protocol} ${seconds}${entry.tcp ? ` ${entry.tcp.stateName}` : ""} src=${formatAddress(entry.src)} dst=${formatAddress(entry.dst)} sport=${entry.sport} dport=${entry.dport}${flags} src=${formatAddress(from.address)} dst=${formatAddress(to.address)} sport=${from.port} dport=${to.port}`,
        );
      }
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

  private lookup(protocol: number, src: number, sport: number, dst: number, dport: number) {
    const found = this.flows.get(src * 65536 + sport)?.get(dst * 65536 + dport);
    return found && found.entry.protocol === protocol ? found : undefined;
  }

  private insert(entry: ConntrackEntry): void {
    const from = entry.replyFrom;
    const to = entry.replyTo;
    this.set(entry.src * 65536 + entry.sport, entry.dst * 65536 + entry.dport, { entry, reply: false });
    this.set(from.address * 65536 + from.port, to.address * 65536 + to.port, { entry, reply: true });
    this.entries++;
  }

  private set(from: number, to: number, value: { entry: ConntrackEntry; reply: boolean }): void {
    let byDestination = this.flows.get(from);
    if (!byDestination) {
      byDestination = new Map();
      this.flows.set(from, byDestination);
    }
    byDestination.set(to, value);
  }

  private remove(entry: ConntrackEntry): void {
    const from = entry.replyFrom;
    const to = entry.replyTo;
    this.unset(entry.src * 65536 + entry.sport, entry.dst * 65536 + entry.dport);
    this.unset(from.address * 65536 + from.port, to.address * 65536 + to.port);
    this.entries--;
  }

  private unset(from: number, to: number): void {
    const byDestination = this.flows.get(from);
    byDestination?.delete(to);
    if (byDestination?.size === 0) this.flows.delete(from);
  }

  /** The kernel's GC worker frees expired entries in the background; this keeps memory bounded the same way. */
  private sweep(jiffies: number): void {
    this.lastSweep = jiffies;
    const expired: ConntrackEntry[] = [];
    for (const byDestination of this.flows.values()) {
      for (const { entry, reply } of byDestination.values()) if (!reply && entry.timeout - jiffies <= 0) expired.push(entry);
    }
    for (const entry of expired) this.remove(entry);
  }
}
