import { decodeIp } from "../../net/ipv6.js";
import type { Packet } from "../../net/packet.js";
import type { CtClassification } from "./conntrack.js";
import type { CompiledFirewall, FilterHook } from "./netfilter/interpreter.js";
import { refilledContext, type ConnectionMarks, type CtState } from "./netfilter/match.js";

const HOOKS: readonly FilterHook[] = ["INPUT", "FORWARD", "OUTPUT"];
const STATES: readonly CtState[] = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"];
const REPLY = 1;
const SEEN_REPLY = 2;
const ASSURED = 4;
const ACCEPTED = 8;
const ARENA_BYTES = 1 << 20;

/**
 * What the filter judged in a run, packet by packet, to judge the same run
 * again under another ruleset (tune's reuse of runs). The packets' bytes lie
 * one after another in 1 MiB arenas and what conntrack made of each in typed
 * columns: a record, a decoded packet and a context object per packet held a
 * 65,536-address scan's 1.8 million packets in about 3 GB, and judging them
 * again waited on memory scattered over all of it.
 */
export class FilterTrace {
  private readonly arenas: Uint8Array[] = [new Uint8Array(ARENA_BYTES)];
  private arenaUsed = 0;
  private count = 0;
  private arenaOf = new Uint32Array(1024);
  private offsets = new Uint32Array(1024);
  private lengths = new Uint32Array(1024);
  private codes = new Uint8Array(1024);
  private flags = new Uint8Array(1024);
  private interfaces = new Uint8Array(1024);
  private jiffies = new Float64Array(1024);
  private clocks = new Float64Array(1024);
  /** The packet's conntrack entry, as live as the run left it (an entry is shared by its flow's packets). */
  private readonly connections: Array<ConnectionMarks | null> = [];
  /** In and out interface names, each kept once. */
  private readonly names: string[] = [];

  /**
   * The run's nftables ingress chains judged fragments before they were
   * reassembled: the trace holds the whole datagrams the route judged, not
   * what ingress saw, so it proves nothing about another ruleset's run.
   */
  private judgedFragmentsAtIngress = false;

  get length(): number {
    return this.count;
  }

  fragmentsJudgedAtIngress(): void {
    this.judgedFragmentsAtIngress = true;
  }

  push(hook: FilterHook, packet: Packet, classification: CtClassification, jiffies: number, outInterface: string, clockNs: number, accepted: boolean): void {
    if (this.count === this.offsets.length) this.grow();
    const bytes = packet.bytes;
    if (this.arenaUsed + bytes.length > ARENA_BYTES) {
      this.arenas.push(new Uint8Array(Math.max(ARENA_BYTES, bytes.length)));
      this.arenaUsed = 0;
    }
    const arena = this.arenas.length - 1;
    this.arenas[arena]!.set(bytes, this.arenaUsed);
    const at = this.count++;
    this.arenaOf[at] = arena;
    this.offsets[at] = this.arenaUsed;
    this.lengths[at] = bytes.length;
    this.arenaUsed += bytes.length;
    this.codes[at] = HOOKS.indexOf(hook) | (STATES.indexOf(classification.state) << 2);
    this.flags[at] = (classification.reply ? REPLY : 0) | (classification.seenReply ? SEEN_REPLY : 0) | (classification.assured ? ASSURED : 0) | (accepted ? ACCEPTED : 0);
    // The context the route gave the filter (contextAfterConntrack): no out interface on INPUT.
    this.interfaces[at] = this.nameIndex(packet.inInterface) | (this.nameIndex(hook === "INPUT" ? "" : outInterface) << 4);
    this.jiffies[at] = jiffies;
    this.clocks[at] = clockNs;
    this.connections.push(classification.entry);
  }

  /** Whether `firewall` decides every packet as the run's own ruleset did. */
  judgedAlike(firewall: CompiledFirewall): boolean {
    return this.judgedAlikeEach([firewall])[0]!;
  }

  /**
   * For each firewall, whether it decides every packet as the run's own
   * ruleset did: one pass over the packets, each decoded once for all of them
   * (decoding was half of a pass), a firewall left behind at its first
   * difference and the pass ended when none is left. Each firewall keeps its
   * own state (its recent lists, its counters); they share the packets.
   */
  judgedAlikeEach(firewalls: readonly CompiledFirewall[]): boolean[] {
    if (this.judgedFragmentsAtIngress) return firewalls.map(() => false);
    const alike = firewalls.map(() => true);
    let alive = firewalls.length;
    const context = refilledContext();
    for (let at = 0; at < this.count && alive > 0; at++) {
      const offset = this.offsets[at]!;
      const code = this.codes[at]!;
      const flags = this.flags[at]!;
      const names = this.interfaces[at]!;
      const hook = HOOKS[code & 3]!;
      const packet = decodeIp(this.arenas[this.arenaOf[at]!]!.subarray(offset, offset + this.lengths[at]!), this.names[names & 15]!);
      const accepted = (flags & ACCEPTED) !== 0;
      // The context the route gave the filter (contextAfterConntrack's rule), refilled rather than made per packet.
      context.jiffies = this.jiffies[at]!;
      context.clockNs = this.clocks[at]!;
      context.ctState = STATES[code >> 2]!;
      context.ctReply = (flags & REPLY) !== 0;
      context.ctSeenReply = (flags & SEEN_REPLY) !== 0;
      context.ctAssured = (flags & ASSURED) !== 0;
      context.outInterface = this.names[names >> 4]!;
      context.hook = hook;
      context.connection = this.connections[at]!;
      for (let index = 0; index < firewalls.length; index++) {
        if (alike[index] && firewalls[index]!.judge(hook, packet, context).accepted !== accepted) {
          alike[index] = false;
          alive--;
        }
      }
    }
    return alike;
  }

  private nameIndex(name: string): number {
    let index = this.names.indexOf(name);
    if (index < 0) {
      if (this.names.length === 16) throw new Error("a filter trace holds at most 16 interface names");
      index = this.names.push(name) - 1;
    }
    return index;
  }

  private grow(): void {
    const size = this.offsets.length * 2;
    const grown = <T extends Uint8Array | Uint32Array | Float64Array>(column: T, make: new (size: number) => T): T => {
      const next = new make(size);
      next.set(column);
      return next;
    };
    this.arenaOf = grown(this.arenaOf, Uint32Array);
    this.offsets = grown(this.offsets, Uint32Array);
    this.lengths = grown(this.lengths, Uint32Array);
    this.codes = grown(this.codes, Uint8Array);
    this.flags = grown(this.flags, Uint8Array);
    this.interfaces = grown(this.interfaces, Uint8Array);
    this.jiffies = grown(this.jiffies, Float64Array);
    this.clocks = grown(this.clocks, Float64Array);
  }
}
