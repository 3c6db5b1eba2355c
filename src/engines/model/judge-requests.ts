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
 * timing (INPUT, towards `pbxAddress`), and returns for each source its first
 * dropped request: a quick "would this have been blocked" for `capture
 * inspect`. No PBX answers and no conntrack: replay a scenario for that.
 */
export function firstDrops(rulesetText: string, pbxAddress: string, requests: readonly TimedDatagram[], ipset?: { readonly path: string; readonly text: string }): Map<string, { atNs: bigint; index: number }> {
  const state = firewallState(defaultKernelSettings, [pbxAddress], ipset);
  const firewall = compileFirewall(parseRuleset(rulesetText, "policy"), state);
  const dropped = new Map<string, { atNs: bigint; index: number }>();
  const sentBy = new Map<string, number>();
  const pbx = parseIpv4(pbxAddress);
  const startNs = requests[0]?.timestampNs ?? 0n;
  for (const request of requests) {
    const count = (sentBy.get(request.src) ?? 0) + 1;
    sentBy.set(request.src, count);
    if (dropped.has(request.src)) continue;
    const packet = decodeIpv4(rewriteIpv4(request.ip, { dst: pbx }));
    const elapsedUs = Number((request.timestampNs - startNs) / 1000n);
    const context = newPacketContext(defaultKernelSettings.startJiffies + Math.floor((elapsedUs * defaultKernelSettings.hz) / 1_000_000));
    if (!firewall.judge("INPUT", packet, context).accepted) dropped.set(request.src, { atNs: request.timestampNs, index: count });
  }
  return dropped;
}
