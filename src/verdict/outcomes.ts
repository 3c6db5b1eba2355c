import type { RunResult } from "../verdict/run-result.js";
import type { RuleRef } from "../firewall/ruleset.js";
import type { AddressOutcome, GaveUp, PasswordFound, RuleCount, SourceOutcome } from "./outcome.js";
import type { Verdict } from "./verdict.js";
import { formatIpv6, maskIpv6, parseIpv6 } from "../net/ipv6-address.js";

interface AddressTally {
  sent: number;
  delivered: number;
  dropped: number;
  firstSentUs: number;
  firstDropUs: number | null;
  packetsToBlock: number | null;
  deliveredAfterDrop: boolean;
}

interface SourceTally {
  sent: number;
  delivered: number;
  dropped: number;
  repliesDropped: number;
  firstSentUs: number | null;
  lastDropUs: number | null;
  addresses: Map<string, AddressTally>;
  rules: Map<string, { ref: RuleRef; count: number }>;
}

export function ruleName(rule: RuleRef): string {
  return `${rule.family === 6 ? "ip6:" : ""}${rule.chain}:${rule.index === 0 ? "policy" : rule.index}`;
}

/** A rule's name, made once: a blocked flood's every packet is counted against the same rule. */
const ruleNames = new WeakMap<RuleRef, string>();
function cachedRuleName(rule: RuleRef): string {
  let name = ruleNames.get(rule);
  if (name === undefined) {
    name = ruleName(rule);
    ruleNames.set(rule, name);
  }
  return name;
}

/** Per-source outcomes from the verdict records and agent events, in one pass over the verdicts. */
export function computeOutcomes(result: RunResult): SourceOutcome[] {
  if (result.outcomes) return [...result.outcomes];
  const tally = new OutcomeTally(Object.keys(result.agentsBySource));
  for (const verdict of result.verdicts) tally.add(verdict);
  return tally.outcomes(result.agentsBySource, result.events);
}

/**
 * Outcomes counted verdict by verdict, so a run that keeps no verdicts (no
 * output needs them) still has its per-source figures in memory bounded by
 * its sources and addresses, not by its packets.
 */
export class OutcomeTally {
  private readonly tallies = new Map<string, SourceTally>();
  private readonly sourcesByAddress = new Map<string, Set<string>>();
  /** Verdicts counted, every direction. */
  packets = 0;

  constructor(sources: Iterable<string>) {
    for (const source of sources) {
      this.tallies.set(source, { sent: 0, delivered: 0, dropped: 0, repliesDropped: 0, firstSentUs: null, lastDropUs: null, addresses: new Map(), rules: new Map() });
    }
  }

  /**
   * What an address is counted as: an IPv4 address itself, an IPv6 one its
   * /64, the least a site is given (RFC 6177): one attacker walking its
   * prefix is one attacker, blocked when its /64 is.
   */
  private countedAs(address: string): string {
    if (!address.includes(":")) return address;
    let prefix = this.prefixes.get(address);
    if (prefix === undefined) {
      prefix = `${formatIpv6(maskIpv6(parseIpv6(address), 64))}/64`;
      this.prefixes.set(address, prefix);
    }
    return prefix;
  }
  private readonly prefixes = new Map<string, string>();

  add(verdict: Verdict): void {
    this.addPacket(verdict.source, verdict.direction, verdict.srcAddr, verdict.atUs, verdict.verdict === "dropped", verdict.rule);
  }

  /** One judged packet, from what the tally reads of its verdict: a run that keeps no verdicts makes none. */
  addPacket(source: string, direction: Verdict["direction"], srcAddr: string, atUs: number, dropped: boolean, rule: RuleRef): void {
    this.packets++;
    const tally = this.tallies.get(source);
    if (!tally) return;
    if (direction === "from-pbx") {
      if (dropped) tally.repliesDropped++;
      return;
    }
    const counted = this.countedAs(srcAddr);
    let address = tally.addresses.get(counted);
    if (!address) {
      address = { sent: 0, delivered: 0, dropped: 0, firstSentUs: atUs, firstDropUs: null, packetsToBlock: null, deliveredAfterDrop: false };
      tally.addresses.set(counted, address);
      let sharing = this.sourcesByAddress.get(counted);
      if (!sharing) this.sourcesByAddress.set(counted, (sharing = new Set()));
      sharing.add(source);
    }
    tally.sent++;
    address.sent++;
    tally.firstSentUs ??= atUs;
    if (dropped) {
      tally.dropped++;
      address.dropped++;
      tally.lastDropUs = atUs;
      if (address.firstDropUs === null) {
        address.firstDropUs = atUs;
        address.packetsToBlock = address.sent;
      }
      const key = cachedRuleName(rule);
      const counted = tally.rules.get(key);
      if (counted) counted.count++;
      else tally.rules.set(key, { ref: rule, count: 1 });
    } else {
      tally.delivered++;
      address.delivered++;
      if (address.firstDropUs !== null) address.deliveredAfterDrop = true;
    }
  }

  outcomes(agentsBySource: RunResult["agentsBySource"], events: RunResult["events"]): SourceOutcome[] {
    const { tallies, sourcesByAddress } = this;
    const registered = new Map<string, Set<string>>();
    const eventCounts = new Map<string, Record<string, number>>();
    const found = new Map<string, PasswordFound[]>();
    const confirmed = new Map<string, PasswordFound[]>();
    const calls = new Map<string, PasswordFound[]>();
    const gaveUp = new Map<string, GaveUp>();
    for (const event of events) {
      if (event.kind === "gave-up") {
        const before = gaveUp.get(event.source);
        gaveUp.set(event.source, before ? { ...before, addresses: before.addresses + 1 } : { addresses: 1, firstAtUs: event.atUs, firstDetail: event.detail ?? "" });
      }
      if (event.kind === "password-found" || event.kind === "extension-found" || event.kind === "call-reached") {
        const into = event.kind === "password-found" ? found : event.kind === "extension-found" ? confirmed : calls;
        const list = into.get(event.source) ?? [];
        list.push({ account: event.account ?? "?", atUs: event.atUs, agent: event.agent, detail: event.detail ?? "" });
        into.set(event.source, list);
      }
      const counts = eventCounts.get(event.source) ?? {};
      counts[event.kind] = (counts[event.kind] ?? 0) + 1;
      eventCounts.set(event.source, counts);
      if (event.kind === "registered") {
        const agents = registered.get(event.source) ?? new Set<string>();
        agents.add(event.agent);
        registered.set(event.source, agents);
      }
    }

    return [...tallies].map(([source, tally]): SourceOutcome => {
      const addresses: AddressOutcome[] = [...tally.addresses].map(([address, a]) => ({
        address,
        sent: a.sent,
        delivered: a.delivered,
        dropped: a.dropped,
        firstSentUs: a.firstSentUs,
        firstDropUs: a.firstDropUs,
        packetsToBlock: a.packetsToBlock,
        keptBlocked: a.firstDropUs !== null && !a.deliveredAfterDrop,
      }));
      const blocked = addresses.filter((a) => a.firstDropUs !== null);
      const dropsByRule: RuleCount[] = [...tally.rules.values()]
        .sort((x, y) => y.count - x.count)
        .map(({ ref, count }) => ({ rule: ruleName(ref), ...(ref.comment ? { comment: ref.comment } : {}), count }));
      const sharing = new Set<string>();
      for (const a of addresses) for (const other of sourcesByAddress.get(a.address) ?? []) if (other !== source) sharing.add(other);
      return {
        source,
        agents: agentsBySource[source]?.length ?? 0,
        registeredAgents: registered.get(source)?.size ?? 0,
        sent: tally.sent,
        delivered: tally.delivered,
        dropped: tally.dropped,
        repliesDropped: tally.repliesDropped,
        firstSentUs: tally.firstSentUs,
        firstDropUs: blocked.length ? Math.min(...blocked.map((a) => a.firstDropUs!)) : null,
        lastDropUs: tally.lastDropUs,
        timeToBlockUs: blocked.length ? Math.max(...blocked.map((a) => a.firstDropUs! - a.firstSentUs)) : null,
        packetsToBlock: blocked.length ? Math.max(...blocked.map((a) => a.packetsToBlock!)) : null,
        addresses,
        dropsByRule,
        events: eventCounts.get(source) ?? {},
        passwordsFound: found.get(source) ?? [],
        extensionsFound: confirmed.get(source) ?? [],
        callsReached: calls.get(source) ?? [],
        gaveUp: gaveUp.get(source) ?? null,
        sharesAddressWith: [...sharing].sort(),
      };
    });
  }
}
