import { parseIpv4 } from "../../net/address.js";
import { decodeIpv4, rewriteIpv4 } from "../../net/ipv4.js";
import { parseRuleset } from "../../firewall/parse-ruleset.js";
import { defaultKernelSettings } from "./kernel-settings.js";
import { compileFirewall } from "./netfilter/interpreter.js";
import { firewallState } from "./netfilter/firewall-state.js";
import { newPacketContext } from "./netfilter/match.js";

export interface TimedDatagram {
  readonly timestampNs: bigint;
  readonly src: string;
  /** The IPv4 datagram as captured. */
  readonly ip: Uint8Array;
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
  private readonly dropped = new Map<string, { atNs: bigint; index: number }>();
  private readonly sentBy = new Map<string, number>();
  private startNs: bigint | null = null;

  constructor(rulesetText: string, pbxAddress: string, ipset?: { readonly path: string; readonly text: string }) {
    this.firewall = compileFirewall(parseRuleset(rulesetText, "policy"), firewallState(defaultKernelSettings, [pbxAddress], ipset));
    this.pbx = parseIpv4(pbxAddress);
  }

  judge(request: TimedDatagram): void {
    const count = (this.sentBy.get(request.src) ?? 0) + 1;
    this.sentBy.set(request.src, count);
    this.startNs ??= request.timestampNs;
    if (this.dropped.has(request.src)) return;
    // Sent to another registrar (judged as one PBX, or at the one address given): as if to this one.
    const dst = ((request.ip[16]! << 24) | (request.ip[17]! << 16) | (request.ip[18]! << 8) | request.ip[19]!) >>> 0;
    const packet = decodeIpv4(dst === this.pbx ? request.ip : rewriteIpv4(request.ip, { dst: this.pbx }));
    const elapsedUs = Number((request.timestampNs - this.startNs) / 1000n);
    const context = newPacketContext(defaultKernelSettings.startJiffies + Math.floor((elapsedUs * defaultKernelSettings.hz) / 1_000_000));
    if (!this.firewall.judge("INPUT", packet, context).accepted) this.dropped.set(request.src, { atNs: request.timestampNs, index: count });
  }

  /** Each source's first dropped request: when, and its number among the source's requests. */
  drops(): ReadonlyMap<string, { atNs: bigint; index: number }> {
    return this.dropped;
  }
}

/** The same over requests already read. */
export function firstDrops(rulesetText: string, pbxAddress: string, requests: readonly TimedDatagram[], ipset?: { readonly path: string; readonly text: string }): ReadonlyMap<string, { atNs: bigint; index: number }> {
  const judge = new FirstDropJudge(rulesetText, pbxAddress, ipset);
  for (const request of requests) judge.judge(request);
  return judge.drops();
}
