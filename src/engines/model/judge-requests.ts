import { parseIpv4 } from "../../net/address.js";
import { parseAddress } from "../../net/address-number.js";
import { decodeIpv4, rewriteIpv4 } from "../../net/ipv4.js";
import { decodeIpv6, rewriteIpv6 } from "../../net/ipv6.js";
import type { IpFamily } from "../../firewall/ruleset.js";
import { parseRuleset } from "../../firewall/parse-ruleset.js";
import { defaultKernelSettings } from "./kernel-settings.js";
import { compileFirewall } from "./netfilter/interpreter.js";
import { firewallState } from "./netfilter/firewall-state.js";
import { newPacketContext, type RefilledContext } from "./netfilter/match.js";

/**
 * A captured request as the judge reads it: its source (by address, and by
 * its number in the reading of the capture, the same number for the same
 * address every time) and its time, as a bigint (kept for the report) and as
 * nanoseconds from any fixed start (a number, for the jiffies).
 */
export interface JudgedRequest {
  readonly src: string;
  readonly sourceIndex: number;
  readonly timestampNs: bigint;
  readonly atNs: number;
}

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
  /** Per source, by its number (JudgedRequest.sourceIndex): an array's slot a request, not a Map's lookup by address. */
  private readonly sources: Array<{ readonly src: string; sent: number; droppedAtNs: bigint | null; droppedIndex: number } | undefined> = [];
  private startNs: number | null = null;
  /** One context refilled per request: the filter reads it only while it judges. */
  private readonly context: RefilledContext = { ...newPacketContext(0) };

  /** `family` 6: ip6tables rules, judging IPv6 requests towards an IPv6 `pbxAddress`. */
  constructor(
    rulesetText: string,
    pbxAddress: string,
    ipset?: { readonly path: string; readonly text: string },
    private readonly family: IpFamily = 4,
  ) {
    this.firewall = compileFirewall(parseRuleset(rulesetText, "policy", undefined, family), firewallState(defaultKernelSettings, [pbxAddress], ipset));
    this.pbx = family === 6 ? parseAddress(pbxAddress) : parseIpv4(pbxAddress);
  }

  /** One request, and its IP datagram as captured (of the judge's family). */
  judge(request: JudgedRequest, ip: Uint8Array): void {
    let source = this.sources[request.sourceIndex];
    if (source === undefined) this.sources[request.sourceIndex] = source = { src: request.src, sent: 0, droppedAtNs: null, droppedIndex: 0 };
    source.sent++;
    const atNs = request.atNs;
    this.startNs ??= atNs;
    if (source.droppedAtNs !== null) return;
    // Sent to another registrar (judged as one PBX, or at the one address given): as if to this one.
    let packet;
    if (this.family === 6) {
      packet = decodeIpv6(ip);
      if (packet.dst !== this.pbx) packet = decodeIpv6(rewriteIpv6(ip, { dst: this.pbx }));
    } else {
      const dst = ((ip[16]! << 24) | (ip[17]! << 16) | (ip[18]! << 8) | ip[19]!) >>> 0;
      packet = decodeIpv4(dst === this.pbx ? ip : rewriteIpv4(ip, { dst: this.pbx }));
    }
    // Truncated as a bigint division would: a capture out of time order gives negative times.
    const elapsedUs = Math.trunc((atNs - this.startNs) / 1000);
    this.context.jiffies = defaultKernelSettings.startJiffies + Math.floor((elapsedUs * defaultKernelSettings.hz) / 1_000_000);
    if (!this.firewall.judge("INPUT", packet, this.context).accepted) {
      source.droppedAtNs = request.timestampNs;
      source.droppedIndex = source.sent;
    }
  }

  /** Every source this judge saw a request from. */
  *judgedSources(): IterableIterator<string> {
    for (const source of this.sources) if (source !== undefined) yield source.src;
  }

  /** Each source's first dropped request: when, and its number among the source's requests. */
  drops(): ReadonlyMap<string, { atNs: bigint; index: number }> {
    const dropped = new Map<string, { atNs: bigint; index: number }>();
    for (const source of this.sources) if (source !== undefined && source.droppedAtNs !== null) dropped.set(source.src, { atNs: source.droppedAtNs, index: source.droppedIndex });
    return dropped;
  }
}
