import { formatCidr, parseCidr, prefixMask, type Cidr } from "../net/address.js";
import type { Scenario } from "../scenario/scenario.js";
import type { Negatable, Rule, Ruleset } from "./ruleset.js";

/**
 * Rules of an admin's own ruleset that name addresses or interfaces no packet
 * of the scenario has: his office's real network, his PBX's public address,
 * `-i ens3` on a lab whose PBX has eth0. Such a rule is silently inert in the
 * run, so the run says so, naming the rule.
 */
export function rulesMatchingNothing(ruleset: Ruleset, scenario: Scenario): string[] {
  const seen = scenarioNetworks(scenario);
  const interfaces = [scenario.pbx.interface, "lo"];
  const warnings: string[] = [];
  const where = (rule: Rule) => `${ruleset.source ?? "ruleset"}: line ${rule.line}`;
  for (const table of ruleset.tables.values()) {
    for (const chain of table.chains.values()) {
      for (const rule of chain.rules) {
        for (const [flag, spec] of [["-s", rule.source], ["-d", rule.destination]] as const) {
          const problem = spec ? addressProblem(spec, seen) : null;
          if (problem) warnings.push(`${where(rule)}: ${flag} ${spec!.negated ? "! " : ""}${spec!.value} ${problem}; the scenario's addresses are ${describe(seen)}. If it stands for a real network of yours, map it onto a lab network with firewall.addressMap, or give the scenario a host there`);
        }
        for (const [flag, spec] of [["-i", rule.inInterface], ["-o", rule.outInterface]] as const) {
          if (spec && !interfaceCanMatch(spec, interfaces)) {
            warnings.push(`${where(rule)}: ${flag} ${spec.negated ? "! " : ""}${spec.value} matches no packet: the PBX's traffic uses ${scenario.pbx.interface} (and lo); name the PBX's interface in the scenario (pbx.interface) if it is not ${scenario.pbx.interface}`);
          }
        }
      }
    }
  }
  return warnings;
}

/** Every network a judged packet can come from or go to: the PBX, the hosts as the PBX sees them, and loopback. */
function scenarioNetworks(scenario: Scenario): Cidr[] {
  const networks = [parseCidr(`${scenario.pbx.address}/32`), parseCidr("127.0.0.0/8")];
  for (const host of Object.values(scenario.hosts)) {
    // IPv6 hosts never meet these (IPv4) rules: their packets meet ip6tables'.
    if (host.kind === "addresses") networks.push(...host.addresses.filter((address) => !address.includes(":")).map((address) => parseCidr(`${address}/32`)));
    else if (host.kind === "range") networks.push(...(host.cidr.includes(":") ? [] : [parseCidr(host.cidr)]));
    // An office's LAN is behind its NAT: the PBX only ever sees the public address.
    else networks.push(parseCidr(`${host.public}/32`));
  }
  return networks;
}

function overlaps(a: Cidr, b: Cidr): boolean {
  const mask = prefixMask(Math.min(a.prefixLength, b.prefixLength));
  return ((a.network & mask) >>> 0) === ((b.network & mask) >>> 0);
}

function covers(outer: Cidr, inner: Cidr): boolean {
  return outer.prefixLength <= inner.prefixLength && ((inner.network & outer.mask) >>> 0) === ((outer.network & outer.mask) >>> 0);
}

/** Why a -s/-d can match no packet of the scenario, or null when it can. Host names and bad text are the parser's business. */
function addressProblem(spec: Negatable<string>, seen: readonly Cidr[]): string | null {
  let cidr: Cidr;
  try {
    cidr = parseCidr(spec.value.includes("/") ? spec.value : `${spec.value}/32`);
  } catch {
    return null;
  }
  if (!spec.negated) return seen.some((network) => overlaps(network, cidr)) ? null : "matches no address in the scenario";
  return seen.every((network) => covers(cidr, network)) ? "excludes every address in the scenario, so it matches no packet" : null;
}

function interfaceCanMatch(spec: Negatable<string>, interfaces: readonly string[]): boolean {
  const prefix = spec.value.endsWith("+");
  const name = prefix ? spec.value.slice(0, -1) : spec.value;
  const hits = interfaces.map((candidate) => (prefix ? candidate.startsWith(name) : candidate === name));
  return spec.negated ? hits.some((hit) => !hit) : hits.some((hit) => hit);
}

function describe(networks: readonly Cidr[]): string {
  const shown = networks.slice(0, 6).map(formatCidr).join(", ");
  return networks.length > 6 ? `${shown} and ${networks.length - 6} more` : shown;
}
