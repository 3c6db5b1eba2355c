import { NO_BASE_CHAIN, nftChainLabel, type NftChain, type NftRuleset } from "../../../firewall/nft/nft-ruleset.js";
import { RulesetError, type RuleRef } from "../../../firewall/ruleset.js";
import type { Packet } from "../../../net/packet.js";
import type { KernelSettings } from "../kernel-settings.js";
import { BEFORE_CONNTRACK, routeStartOf, trackerOf, UNTRACKED_PACKET, type ConnectionTracker, type CompiledFirewall, type FilterHook, type Judgement, type RouteJudgement, type RouteStart, type RuleCounter, type TrackedPacket } from "../netfilter/interpreter.js";
import type { PacketContext } from "../netfilter/match.js";
import { KNOWN_HELPERS } from "../netfilter/targets.js";
import { natRewrite, oneShotNat, resolveNatTarget, type ManipType, type NatTarget } from "../netfilter/nat.js";
import { compileNftRule, NftConstructError, type CompiledNftRule, type NftPacketState } from "./nft-rule.js";
import { RuntimeNftSet } from "./nft-sets.js";
import { NftValueError } from "./nft-values.js";

/**
 * An nftables ruleset judged as nf_tables does (nf_tables_core.c,
 * nft_do_chain): at each hook the base chains of every ip and inet table
 * run in priority order, conntrack between those below -200 and the rest
 * (NF_IP_PRI_CONNTRACK); in a base chain rules run in order, jump pushes a
 * return point, goto does not, return or a regular chain's end pops, and
 * the end of the base chain applies its policy. accept ends only its base
 * chain, and the packet goes on to the next one; drop and reject end it.
 * ip6 tables never see the IPv4 packets slamlab judges.
 */

type Hook = "ingress" | "prerouting" | "input" | "forward" | "output" | "postrouting" | "egress";

interface CompiledBaseChain {
  readonly label: string;
  /** The packets its table's family sees: ip IPv4's, ip6 IPv6's, inet both. */
  readonly families: ReadonlySet<4 | 6>;
  readonly priority: number;
  readonly policyAccepts: boolean;
  readonly policySlot: number;
  readonly table: CompiledTableChains;
  readonly start: number;
  /** An ingress chain's devices: it sees what they receive. */
  readonly devices?: ReadonlySet<string>;
  /** The NAT core's place among the hook's chains (nf_nat_ipv4_ops): the nat chains of the hook run there, not as chains of their own. */
  readonly natCore?: true;
}

/** The NAT core's priority at each hook (NF_IP_PRI_NAT_DST, NF_IP_PRI_NAT_SRC) and the end it rewrites there. */
const NAT_CORE: Partial<Record<Hook, { readonly priority: number; readonly type: ManipType }>> = {
  prerouting: { priority: -100, type: "dst" },
  output: { priority: -100, type: "dst" },
  input: { priority: 100, type: "src" },
  postrouting: { priority: 100, type: "src" },
};

interface CompiledTableChains {
  readonly chains: ReadonlyArray<{ readonly label: string; readonly rules: ReadonlyArray<CompiledNftRule & { readonly slot: number }> }>;
  readonly index: ReadonlyMap<string, number>;
}

/** The hooks a packet's route passes, in order, named by where the filter judges it. */
const ROUTE_HOOKS: Record<FilterHook, readonly Hook[]> = { INPUT: ["prerouting", "input"], FORWARD: ["prerouting", "forward", "postrouting"], OUTPUT: ["output", "postrouting"] };
/** NF_IP_PRI_CONNTRACK. */
const CONNTRACK_PRIORITY = -200;

const chainLabel = nftChainLabel;

/**
 * With `problems`, every construct the model cannot run is noted there (by
 * file and line) and its rule left out, so `firewall check` lists them all;
 * without it, the first one throws.
 */
/** `localAddresses`: the firewall host's own addresses (fib's type local), the PBX's when the firewall runs on it. */
export function compileNftFirewall(ruleset: NftRuleset, settings: KernelSettings, source = "ruleset", problems?: RulesetError[], localAddresses: readonly number[] = [], wallClockStartMs?: number): CompiledFirewall {
  const note = (line: number, message: string) => {
    const error = new RulesetError("NFT_UNSUPPORTED", `${source}: line ${line}: ${message}`);
    if (!problems) throw error;
    problems.push(error);
  };
  const counterLabels: Array<{ chain: string; index: number }> = [];
  const packets: number[] = [];
  const bytes: number[] = [];
  const slot = (chain: string, index: number) => {
    counterLabels.push({ chain, index });
    packets.push(0);
    bytes.push(0);
    return counterLabels.length - 1;
  };
  const baseChains: Record<Hook, CompiledBaseChain[]> = { ingress: [], prerouting: [], input: [], forward: [], output: [], postrouting: [], egress: [] };
  /** type nat base chains by hook: the NAT core runs them for a connection's first packet. */
  const natChains: Record<Hook, CompiledBaseChain[]> = { ingress: [], prerouting: [], input: [], forward: [], output: [], postrouting: [], egress: [] };
  const namedSets: RuntimeNftSet[] = [];

  for (const table of ruleset.tables) {
    // An arp table's chains see ARP frames only: no packet the model judges (IP) ever meets them.
    if (table.family === "arp") continue;
    if (table.family !== "ip" && table.family !== "inet" && table.family !== "ip6" && table.family !== "netdev") {
      note(table.line, `table ${table.family} ${table.name}: the ${table.family} family is not modelled (ip, inet, ip6, netdev and arp are)`);
      continue;
    }
    const chainNames = new Set(table.chains.keys());
    const sets = new Map<string, RuntimeNftSet>();
    for (const set of table.sets.values()) {
      try {
        const runtime = new RuntimeNftSet(set, settings.hz, settings.startJiffies, chainNames);
        sets.set(set.name, runtime);
        namedSets.push(runtime);
      } catch (error) {
        if (!(error instanceof NftValueError)) throw error;
        note(set.line, error.message);
      }
    }
    for (const helper of table.ctHelpers.values()) {
      // The kernel finds the helper by its name when the object is made; nft fails the load for one it does not have.
      if (!KNOWN_HELPERS.has(helper.type)) note(helper.line, `ct helper ${helper.name}: type "${helper.type}" is no conntrack helper the kernel has (${[...KNOWN_HELPERS].join(", ")})`);
    }
    // A named quota or limit is the step its body makes in a rule, made once: its bucket or its bytes are the object's.
    const namedObjects = new Map<string, (state: NftPacketState) => boolean>();
    for (const [key, object] of table.statefulObjects) {
      const word = (text: string) => ({ text, quoted: false, line: object.line });
      const tokens = [word(object.kind), ...object.tokens];
      try {
        const compiled = compileNftRule({ index: 0, line: object.line, text: tokens.map((token) => token.text).join(" "), tokens }, { sets, chains: chainNames, settings, meters: new Map() });
        if (compiled.steps.length !== 1) throw new NftConstructError(`${object.kind} ${object.name}: expected one ${object.kind}'s body`);
        namedObjects.set(key, compiled.steps[0]!);
      } catch (error) {
        if (!(error instanceof NftConstructError)) throw error;
        note(object.line, `${object.kind} ${object.name}: ${error.message}`);
      }
    }
    const meters = new Map<string, RuntimeNftSet>();
    const counters = new Set(table.counters.keys());
    const compiled: Array<{ label: string; rules: Array<CompiledNftRule & { slot: number }> }> = [];
    const index = new Map<string, number>();
    for (const chain of table.chains.values()) {
      const label = chainLabel(table, chain.name);
      index.set(chain.name, compiled.length);
      compiled.push({ label, rules: compileChain(chain, label) });
    }
    const tableChains: CompiledTableChains = { chains: compiled, index };
    // A netdev table sees every packet its devices receive, IPv4 and IPv6 alike.
    const families = new Set<4 | 6>(table.family === "ip" ? [4] : table.family === "ip6" ? [6] : [4, 6]);
    for (const chain of table.chains.values()) {
      const base = chain.base;
      if (!base) continue;
      if (base.type === "nat") {
        // The model NATs IPv4 connections (nf_nat_core for ip and inet tables); IPv6's NAT66 is not modelled.
        const natHook = NAT_CORE[base.hook] ? base.hook : null;
        if (table.family !== "ip" && table.family !== "inet") note(chain.line, `chain ${chain.name}: type nat chains in ${table.family} tables are not modelled (ip and inet tables' are, for IPv4)`);
        else if (!natHook) note(chain.line, `chain ${chain.name}: a type nat chain hooks prerouting, input, output or postrouting, not ${base.hook}`);
        else {
          const label = chainLabel(table, chain.name);
          natChains[natHook].push({ label, families: new Set([4]), priority: base.priority, policyAccepts: base.policy === "accept", policySlot: slot(label, 0), table: tableChains, start: index.get(chain.name)! });
        }
        continue;
      }
      if (base.hook === "egress" && table.family !== "netdev") {
        note(chain.line, `chain ${chain.name}: hook egress is for netdev tables (nft refuses it in an ${table.family} table)`);
        continue;
      }
      if (table.family === "netdev" && base.hook !== "ingress" && base.hook !== "egress") {
        note(chain.line, `chain ${chain.name}: a netdev table's chains hook ingress or egress, not ${base.hook}`);
        continue;
      }
      if (base.hook === "ingress" && table.family !== "netdev" && table.family !== "inet") {
        note(chain.line, `chain ${chain.name}: hook ingress is for netdev and inet tables (nft refuses it in an ${table.family} table)`);
        continue;
      }
      const label = chainLabel(table, chain.name);
      baseChains[base.hook].push({
        label,
        families,
        priority: base.priority,
        policyAccepts: base.policy === "accept",
        policySlot: slot(label, 0),
        table: tableChains,
        start: index.get(chain.name)!,
        ...(base.devices ? { devices: new Set(base.devices) } : {}),
      });
    }

    function compileChain(chain: NftChain, label: string): Array<CompiledNftRule & { slot: number }> {
      const rules: Array<CompiledNftRule & { slot: number }> = [];
      for (const rule of chain.rules) {
        try {
          rules.push({ ...compileNftRule(rule, { sets, chains: chainNames, settings, meters, localAddresses, counters, ctHelpers: table.ctHelpers, namedObjects, ...(wallClockStartMs === undefined ? {} : { wallClockStartMs }), ...(chain.base ? { chainType: chain.base.type } : {}) }), slot: slot(label, rule.index) });
        } catch (error) {
          if (!(error instanceof NftConstructError)) throw error;
          note(rule.line, `${error.message}: ${rule.text}`);
        }
      }
      return rules;
    }
  }
  // With any nat chain the NAT core hooks every hook it has, nat chains there or not: a connection's later packets and its replies are rewritten.
  const anyNat = Object.values(natChains).some((chains) => chains.length > 0);
  const natCoreTable: CompiledTableChains = { chains: [], index: new Map() };
  for (const [hook, core] of Object.entries(NAT_CORE) as Array<[Hook, { priority: number }]>) {
    if (anyNat) baseChains[hook].push({ label: `nat ${hook}`, families: new Set([4]), priority: core.priority, policyAccepts: true, policySlot: -1, table: natCoreTable, start: 0, natCore: true });
  }
  // Stable: chains of equal priority keep the order their tables were loaded in (the NAT core after them).
  for (const chains of [...Object.values(baseChains), ...Object.values(natChains)]) chains.sort((a, b) => a.priority - b.priority);

  /** One base chain from its start: the rule that decided, or the policy. */
  const walk = (base: CompiledBaseChain, state: NftPacketState): { accepted: boolean; rule: RuleRef } => {
    const stack: Array<{ chain: number; next: number }> = [];
    let chain = base.start;
    let next = 0;
    for (;;) {
      const rules = base.table.chains[chain]!.rules;
      if (next >= rules.length) {
        const back = stack.pop();
        if (!back) break;
        chain = back.chain;
        next = back.next;
        continue;
      }
      const rule = rules[next++]!;
      state.mapVerdict = null;
      let holds = true;
      for (const step of rule.steps) {
        if (!step(state)) {
          holds = false;
          break;
        }
      }
      if (!holds) continue;
      packets[rule.slot]!++;
      bytes[rule.slot]! += state.packet.bytes.length;
      // A verdict map decides per packet; any other rule by its own verdict.
      const verdict = state.mapVerdict ?? rule.verdict;
      const ref = (target: string): RuleRef => ({ chain: base.table.chains[chain]!.label, index: rule.rule.index, target });
      switch (verdict.kind) {
        case "continue":
          continue;
        case "accept":
          return { accepted: true, rule: ref("ACCEPT") };
        case "drop":
          return { accepted: false, rule: ref("DROP") };
        case "reject":
          return { accepted: false, rule: ref("REJECT") };
        case "return": {
          const back = stack.pop();
          if (!back) return policy();
          chain = back.chain;
          next = back.next;
          continue;
        }
        case "jump":
        case "goto":
          if (verdict.kind === "jump") stack.push({ chain, next });
          chain = base.table.index.get(verdict.chain)!;
          next = 0;
          continue;
      }
    }
    return policy();

    function policy() {
      packets[base.policySlot]!++;
      bytes[base.policySlot]! += state.packet.bytes.length;
      return { accepted: base.policyAccepts, rule: { chain: base.label, index: 0, target: base.policyAccepts ? "ACCEPT" : "DROP" } };
    }
  };

  const judgeRoute = (hook: FilterHook, packet: Packet, start: RouteStart, tracker: ConnectionTracker): RouteJudgement => {
    let tracked = BEFORE_CONNTRACK;
    let conntrackRan = false;
    const state: NftPacketState = {
      packet,
      jiffies: start.jiffies,
      clockNs: start.clockNs ?? ((start.jiffies - settings.startJiffies) * 1e9) / settings.hz,
      ctState: tracked.state,
      connection: null,
      inName: hook === "OUTPUT" ? "" : packet.inInterface,
      outName: "",
      mark: 0,
      notrack: false,
      mapVerdict: null,
      ctAssured: false,
      ctReply: false,
      ctSeenReply: false,
      ctNat: null,
      natTarget: null,
    };
    let decided: RuleRef = { chain: NO_BASE_CHAIN, index: 0, target: "ACCEPT" };
    const runConntrack = () => {
      conntrackRan = true;
      tracked = state.notrack ? UNTRACKED_PACKET : tracker.track(state.packet, { mark: state.mark, notrack: state.notrack, helper: "" });
      state.ctState = tracked.state;
      state.connection = tracked.connection;
      state.ctAssured = tracked.assured;
      state.ctReply = tracked.reply;
      state.ctSeenReply = tracked.seenReply;
      state.ctNat = tracked.nat;
    };
    // Ingress (nf_hook_ingress in __netif_receive_skb_core) runs on what a device receives, before the IP stack and conntrack.
    if (hook !== "OUTPUT" && !start.ingressJudged) {
      const judgement = runIngress(state);
      if (judgement && !judgement.accepted) return { accepted: false, rule: judgement.rule, packet: state.packet, tracked, route: hook };
    }
    let route = hook;
    let hooks = ROUTE_HOOKS[hook];
    for (let at = 0; at < hooks.length; at++) {
      const stage = hooks[at]!;
      state.outName = stage === "input" || stage === "prerouting" ? "" : start.outInterface;
      for (const base of baseChains[stage]) {
        if (!base.families.has(packet.family)) continue;
        if (!conntrackRan && (stage === "prerouting" || stage === "output") && base.priority >= CONNTRACK_PRIORITY) runConntrack();
        if (base.natCore) {
          const before = state.packet.dst;
          const refused = runNat(stage, state, tracked);
          if (refused) return { accepted: false, rule: refused.rule, packet: state.packet, tracked, route };
          // Routing follows PREROUTING: a new destination can turn a packet for the host into one it forwards, and back.
          if (stage === "prerouting" && state.packet.dst !== before && route !== "OUTPUT") {
            route = isLocal(state.packet.dst) ? "INPUT" : "FORWARD";
            hooks = ROUTE_HOOKS[route];
          }
          continue;
        }
        const judgement = walk(base, state);
        if (!judgement.accepted) return { accepted: false, rule: judgement.rule, packet: state.packet, tracked, route };
        // The last base chain to accept names the verdict, as the lab's last verdict record does.
        decided = judgement.rule;
      }
      if (!conntrackRan && (stage === "prerouting" || stage === "output")) runConntrack();
    }
    // Egress (nf_hook_egress in __dev_queue_xmit): what leaves a device, after postrouting, on its devices only.
    if (route !== "INPUT") {
      for (const base of baseChains.egress) {
        if (!base.families.has(state.packet.family) || !base.devices?.has(start.outInterface)) continue;
        const judgement = walk(base, state);
        if (!judgement.accepted) return { accepted: false, rule: judgement.rule, packet: state.packet, tracked, route };
        decided = judgement.rule;
      }
    }
    // The packet as the rules left it: `ip dscp set` rewrites its bytes, NAT its addresses.
    return { accepted: true, rule: decided, packet: state.packet, tracked, route };
  };

  const isLocal = (address: number) => address >>> 24 === 127 || localAddresses.includes(address);

  /**
   * The NAT core at a hook (nf_nat_inet_fn): a connection's first packet
   * runs the hook's nat chains in priority order until one maps it (or
   * none does: the null binding); every packet of the connection is then
   * rewritten from its binding, a reply at the opposite end. A drop in a
   * nat chain is the packet's verdict; null otherwise. IPv4 only.
   */
  const runNat = (stage: Hook, state: NftPacketState, tracked: TrackedPacket): { accepted: boolean; rule: RuleRef } | null => {
    const nat = tracked.nat;
    if (!nat || state.packet.family !== 4) return null;
    const type = NAT_CORE[stage]!.type;
    if (!nat.initialized(type)) {
      state.natTarget = null;
      for (const chain of natChains[stage]) {
        const judgement = walk(chain, state);
        if (!judgement.accepted) return judgement;
        if (state.natTarget) break;
      }
      const target = state.natTarget as NatTarget | null;
      // nf_nat_redirect_ipv4: at output a redirect goes to loopback, at prerouting to the incoming interface's address.
      const resolved = target && target.type === type ? resolveNatTarget(stage === "output" && target.address === "incoming-interface" ? { ...target, address: "loopback" } : target, state.packet, localAddresses) : null;
      nat.bind(type, resolved);
    }
    const to = nat.rewrite(type, tracked.reply);
    if (to) state.packet = natRewrite(state.packet, type, to);
    return null;
  };

  /** The ingress chains on the packet's device, in priority order: the first drop, or the last accept; null when none runs. */
  const runIngress = (state: NftPacketState): { accepted: boolean; rule: RuleRef } | null => {
    let decided: { accepted: boolean; rule: RuleRef } | null = null;
    for (const base of baseChains.ingress) {
      if (!base.families.has(state.packet.family) || !base.devices?.has(state.packet.inInterface)) continue;
      decided = walk(base, state);
      if (!decided.accepted) return decided;
    }
    return decided;
  };

  const judgeIngress = (packet: Packet, start: RouteStart): Judgement | null =>
    runIngress({
      packet,
      jiffies: start.jiffies,
      clockNs: start.clockNs ?? ((start.jiffies - settings.startJiffies) * 1e9) / settings.hz,
      ctState: BEFORE_CONNTRACK.state,
      connection: null,
      inName: packet.inInterface,
      outName: "",
      mark: 0,
      notrack: false,
      mapVerdict: null,
      ctAssured: false,
      ctReply: false,
      ctSeenReply: false,
      ctNat: null,
      natTarget: null,
    });

  // Judged alone, a packet's connection is the context's: what the nat chains decide applies to this packet only.
  const judge = (hook: FilterHook, packet: Packet, context: PacketContext): Judgement =>
    judgeRoute(hook, packet, routeStartOf(context), trackerOf(context, anyNat && context.ctState !== "UNTRACKED" && context.ctState !== "INVALID" ? oneShotNat() : null));

  return {
    judge,
    judgeRoute,
    ...(baseChains.ingress.length > 0 ? { judgeIngress } : {}),
    counters: (): RuleCounter[] => counterLabels.map((label, index) => ({ ...label, packets: packets[index]!, bytes: bytes[index]! })),
    addToNftSet: (name: string, address: number, jiffies: number, timeoutJiffies: number): boolean => {
      const set = namedSets.find((candidate) => candidate.name === name && candidate.keyType === "ipv4_addr" && candidate.data === null);
      if (!set) return false;
      set.upsert(address >>> 0, jiffies, timeoutJiffies, false);
      return true;
    },
  };
}
