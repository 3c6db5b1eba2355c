import { parseIpv4 } from "../../net/address.js";
import { decodeIpv4, rewriteIpv4 } from "../../net/ipv4.js";
import { parseRuleset } from "../../firewall/parse-ruleset.js";
import { defaultKernelSettings } from "./kernel-settings.js";
import { compileFirewall } from "./netfilter/interpreter.js";
import { firewallState } from "./netfilter/firewall-state.js";
import { newPacketContext, type RefilledContext } from "./netfilter/match.js";

/**
 * Runs captured requests through a ruleset's filter table with their own
 * timing (INPUT, towards `pbxAddress`), one at a time as a capture is read,
 * and keeps for each source its first dropped request: a quick "would this
 * have been blocked" for `capture inspect`. No PBX answers and no conntrack:
 * replay a scenario for that. It holds the firewall's state and a count per
 * source, never the requests.
 */
export class FirstDropJudge {
  private readonly firewall;
  private readonly pbx: number;
  /** Per source, one record: a lookup a request, where a count and a drop in Maps of their own took three. */
  private readonly sources = new Map<string, { sent: number; droppedAtNs: bigint | null; droppedIndex: number }>();
  private startNs: number | null = null;
  /** One context refilled per request: the filter reads it only while it judges. */
  private readonly context: RefilledContext = { ...newPacketContext(0) };

  constructor(rulesetText: string, pbxAddress: string, ipset?: { readonly path: string; readonly text: string }) {
    this.firewall = compileFirewall(parseRuleset(rulesetText, "policy"), firewallState(defaultKernelSettings, [pbxAddress], ipset));
    this.pbx = parseIpv4(pbxAddress);
  }

  /**
   * One request: its source, its IPv4 datagram as captured, and its time, as
   * a bigint (kept for the report) and as nanoseconds from any fixed start (a
   * number, for the jiffies: no bigint made per request).
   */
  judge(src: string, ip: Uint8Array, timestampNs: bigint, atNs: number): void {
    let source = this.sources.get(src);
    if (source === undefined) this.sources.set(src, (source = { sent: 0, droppedAtNs: null, droppedIndex: 0 }));
    source.sent++;
    this.startNs ??= atNs;
    if (source.droppedAtNs !== null) return;
    // Sent to another registrar (judged as one PBX, or at the one address given): as if to this one.
    const dst = ((ip[16]! << 24) | (ip[17]! << 16) | (ip[18]! << 8) | ip[19]!) >>> 0;
    const packet = decodeIpv4(dst === this.pbx ? ip : rewriteIpv4(ip, { dst: this.pbx }));
    // Truncated as a bigint division would: a capture out of time order gives negative times.
    const elapsedUs = Math.trunc((atNs - this.startNs) / 1000);
    this.context.jiffies = defaultKernelSettings.startJiffies + Math.floor((elapsedUs * defaultKernelSettings.hz) / 1_000_000);
    if (!this.firewall.judge("INPUT", packet, this.context).accepted) {
      source.droppedAtNs = timestampNs;
      source.droppedIndex = source.sent;
    }
  }

  /** Each source's first dropped request: when, and its number among the source's requests. */
  drops(): ReadonlyMap<string, { atNs: bigint; index: number }> {
    const dropped = new Map<string, { atNs: bigint; index: number }>();
    for (const [src, source] of this.sources) if (source.droppedAtNs !== null) dropped.set(src, { atNs: source.droppedAtNs, index: source.droppedIndex });
    return dropped;
  }
}
