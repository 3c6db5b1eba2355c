import { lookupTable, PROTOCOL_NUMBERS } from "../../../net/netbase-names.js";
import { AddressError, parseCidr } from "../../../net/address.js";
import { ipv6InPrefix } from "../../../net/address-number.js";
import { parseIpv6Cidr, type Ipv6Cidr } from "../../../net/ipv6-address.js";
import type { Packet } from "../../../net/packet.js";
import { builtinChains, targetPlaces } from "../../../firewall/rule-vocabulary.js";
import { RulesetError, qualifiedChain, type Chain, type IpFamily, type Negatable, type Rule, type RuleRef, type Ruleset, type Table } from "../../../firewall/ruleset.js";
import { hotdropOf, refilledContext, type CompiledMatch, type ConnectionMarks, type CtState, type Hook, type MatchState, type PacketContext, type SkbState } from "./match.js";
import { matchFactories } from "./match-registry.js";
import { compileSetTarget } from "./matches/set.js";
import { compileNatTarget, manipTypeOf, natRewrite, oneShotNat, resolveNatTarget, type ConnectionNat, type NatTarget } from "./nat.js";
import { compileTargetEffect, type TargetEffect } from "./targets.js";

/** The hooks a packet's route is named by: where the filter table judges it. */
export type FilterHook = "INPUT" | "FORWARD" | "OUTPUT";

export interface Judgement {
  readonly accepted: boolean;
  readonly rule: RuleRef;
  /** A nat table rule's mapping (DNAT, SNAT, MASQUERADE, REDIRECT). */
  readonly nat?: NatTarget;
}

/** What conntrack made of a packet, for the tables after it. */
export interface TrackedPacket {
  readonly state: CtState;
  readonly reply: boolean;
  readonly seenReply: boolean;
  readonly assured: boolean;
  /** The entry's marks; null when the packet has none (untracked). */
  readonly connection: ConnectionMarks | null;
  /** The entry's NAT bindings; null when the packet has none (untracked). */
  readonly nat: ConnectionNat | null;
}

/** nf_conntrack_in, which runs between the raw table and the others; `skb` holds what raw set (CT --notrack, --helper). */
export interface ConnectionTracker {
  track(packet: Packet, skb: SkbState): TrackedPacket;
}

/** What a route's judging starts from besides the packet. */
export interface RouteStart {
  readonly jiffies: number;
  readonly clockNs?: number;
  /** The interface the packet leaves by (-o) where it has one. */
  readonly outInterface: string;
  /**
   * The packet was reassembled from fragments that each passed the ingress
   * chains already (judgeIngress): ingress runs before defragmentation, so
   * the whole datagram does not pass it again.
   */
  readonly ingressJudged?: boolean;
}

/** A packet's verdict over its whole route, with the packet as the last table left it and what conntrack made of it. */
export interface RouteJudgement extends Judgement {
  readonly packet: Packet;
  readonly tracked: TrackedPacket;
  /** The way the packet took: a DNAT can turn a packet for the host into one it forwards, and back. */
  readonly route: FilterHook;
}

export interface RuleCounter {
  readonly chain: string;
  readonly index: number;
  /** 6: an ip6tables rule's counter; absent, iptables'. */
  readonly family?: 6;
  readonly packets: number;
  readonly bytes: number;
}

export interface CompiledFirewall {
  /**
   * The packet's whole route to (INPUT), through (FORWARD) or from (OUTPUT)
   * the host, every table in the kernel's order, with conntrack as `context`
   * says it is (a caller without a conntrack table judges this way).
   */
  judge(hook: FilterHook, packet: Packet, context: PacketContext): Judgement;
  /**
   * The same with a conntrack table, which runs after raw as the kernel's
   * does. The result is refilled by the next call: read it before judging again.
   */
  judgeRoute(hook: FilterHook, packet: Packet, start: RouteStart, tracker: ConnectionTracker): RouteJudgement;
  /**
   * nftables' ingress chains alone (netdev, or inet with hook ingress), for a
   * packet as its device received it: a fragment, before reassembly. Null
   * when no ingress chain runs on the packet's device; absent for a firewall
   * without ingress chains.
   */
  judgeIngress?(packet: Packet, start: RouteStart): Judgement | null;
  /** Per-rule counters as `iptables-save -c` prints them (index 0 = policy). */
  counters(): RuleCounter[];
  /**
   * `nft add element`: an address into a named set of an nftables ruleset
   * (fail2ban's nftables ban action), lasting `timeoutJiffies` (0: for good);
   * false when no table has a set of that name. iptables rulesets keep their
   * sets in ipset (matches/set.ts).
   */
  addToNftSet?(name: string, address: number, jiffies: number, timeoutJiffies: number): boolean;
}

const enum Action {
  None,
  Accept,
  Drop,
  Return,
  Jump,
  Goto,
}

interface CompiledRule {
  readonly protocol: number; // -1 = any
  readonly protocolNegated: boolean;
  readonly srcMask: number;
  readonly srcNet: number;
  readonly srcNegated: boolean;
  readonly dstMask: number;
  readonly dstNet: number;
  readonly dstNegated: boolean;
  readonly inInterface: InterfaceTest | null;
  readonly outInterface: InterfaceTest | null;
  readonly fragment: -1 | 0 | 1; // -1 any, 1 only non-first fragments, 0 only first/unfragmented
  readonly matches: readonly CompiledMatch[];
  readonly action: Action;
  readonly jumpTo: number; // chain index for Jump/Goto, in `tableChains`
  /** The rule's own table's chains (filled as the table compiles): a jump resolves without a lookup. */
  readonly tableChains: readonly CompiledChain[];
  readonly judgement: Judgement;
  readonly counterSlot: number;
  /** A non-terminal target's side effect (SET changes a set, MARK the mark, DSCP the bytes), run when the rule matches. */
  readonly effect: TargetEffect | null;
}

interface InterfaceTest {
  readonly name: string;
  readonly prefix: boolean;
  readonly negated: boolean;
}

interface CompiledChain {
  readonly name: string;
  readonly rules: readonly CompiledRule[];
  readonly policyJudgement: Judgement | null;
  readonly policyCounterSlot: number;
}

/** Protocol names as iptables and nft resolve them: /etc/protocols (getprotobyname), then libxtables' own (xtables_chain_protos); "all" is any. */
export const protocolNumbers: Readonly<Record<string, number>> = lookupTable({ ...PROTOCOL_NUMBERS, all: -1, icmpv6: 58, "ipv6-icmp": 58, "ipv6-mh": 135, mh: 135 });

/** nf_tables validates jumps from each base chain and refuses a chain at this level (NFT_JUMP_STACK_SIZE, -EMLINK). */
const NFT_JUMP_STACK_SIZE = 16;

/**
 * Refuses loops, as iptables-restore does ("Too many levels of symbolic
 * links"), and, for iptables-nft, jumps nested as deep as nf_tables refuses
 * ("Too many links"); ip_tables.c itself allows a jump stack as deep as there
 * are chains. Iterative: a chain of 10,000 jumps must not overflow our stack.
 */
function checkJumps(chains: ReadonlyMap<string, readonly Rule[]>, builtins: readonly string[], nfTables: boolean): void {
  const jumpsOf = (name: string) => (chains.get(name) ?? []).filter((rule) => rule.target?.chain && (rule.target.kind === "jump" || rule.target.kind === "goto"));
  const state = new Map<string, "visiting" | "done">();
  for (const root of chains.keys()) {
    if (state.has(root)) continue;
    const stack: { name: string; next: number; jumps: Rule[] }[] = [{ name: root, next: 0, jumps: jumpsOf(root) }];
    state.set(root, "visiting");
    while (stack.length) {
      const frame = stack[stack.length - 1]!;
      const rule = frame.jumps[frame.next++];
      if (!rule) {
        state.set(frame.name, "done");
        stack.pop();
        continue;
      }
      const target = rule.target!.chain!;
      if (state.get(target) === "visiting") {
        throw new RulesetError("RULESET_LOOP", `chain ${target} can reach itself through jumps (iptables-restore: "Too many levels of symbolic links"); remove the loop`, rule.line);
      }
      if (!state.has(target)) {
        state.set(target, "visiting");
        stack.push({ name: target, next: 0, jumps: jumpsOf(target) });
      }
    }
  }
  if (!nfTables) return;
  // The deepest level each chain is reached at from a base chain; the graph has no loops now.
  const level = new Map<string, number>();
  const queue = builtins.filter((name) => chains.has(name)).map((name) => ({ name, depth: 0 }));
  while (queue.length) {
    const { name, depth } = queue.pop()!;
    for (const rule of jumpsOf(name)) {
      const target = rule.target!.chain!;
      const targetLevel = depth + 1;
      if (targetLevel >= NFT_JUMP_STACK_SIZE) {
        throw new RulesetError(
          "RULESET_REJECTED",
          `the jump to ${target} is ${targetLevel} chains deep; nf_tables (iptables-nft) refuses more than ${NFT_JUMP_STACK_SIZE - 1} (iptables-restore: "Too many links"); flatten the chains, or model iptables-legacy with --kernel iptables_nft=0`,
          rule.line,
        );
      }
      if ((level.get(target) ?? -1) < targetLevel) {
        level.set(target, targetLevel);
        queue.push({ name: target, depth: targetLevel });
      }
    }
  }
}

/**
 * Compiles every table into closures once, then judges packets the way
 * ipt_do_table (net/ipv4/netfilter/ip_tables.c) walks each: rules in order,
 * all matches must hold, a jump pushes a return point and a goto does not,
 * RETURN or the end of a user chain pops, and the end of a built-in chain
 * applies its policy. A route runs the tables in the order of their hook
 * priorities (raw, conntrack, mangle, nat, filter, security); a drop anywhere
 * ends it.
 */
export function compileFirewall(ruleset: Ruleset, state: MatchState, problems?: RulesetError[]): CompiledFirewall {
  try {
    return compileTables(ruleset, state, problems);
  } catch (error) {
    // Match options are checked here, after parsing: the error names the file as parse errors do.
    if (error instanceof RulesetError && ruleset.source && !error.message.startsWith(`${ruleset.source}: `)) throw new RulesetError(error.code, `${ruleset.source}: ${error.message}`);
    throw error;
  }
}

/** A table's chain that a route passes through, or the point where conntrack runs. */
type Stage = ChainStage | "conntrack";

/** A table's chain in a route. */
interface ChainStage {
  readonly table: string;
  readonly hook: Hook;
  readonly chain: CompiledChain;
  /** What the route asks per packet, decided once: the names compared for every packet were a cost of their own. */
  readonly isNat: boolean;
  readonly isFilter: boolean;
  /** A hook before routing has no -o; one after the host sent the packet has no -i. */
  readonly hasOutInterface: boolean;
  readonly hasInInterface: boolean;
}

/**
 * nf_ip_hook_priorities: each hook's tables in the order the kernel runs
 * them. Conntrack runs after raw at PREROUTING and OUTPUT; the nat table's
 * chains only see a connection's first packet.
 */
const ROUTES: Record<FilterHook, ReadonlyArray<readonly [string, Hook] | "conntrack">> = {
  INPUT: [["raw", "PREROUTING"], "conntrack", ["mangle", "PREROUTING"], ["nat", "PREROUTING"], ["mangle", "INPUT"], ["filter", "INPUT"], ["security", "INPUT"], ["nat", "INPUT"]],
  FORWARD: [
    ["raw", "PREROUTING"],
    "conntrack",
    ["mangle", "PREROUTING"],
    ["nat", "PREROUTING"],
    ["mangle", "FORWARD"],
    ["filter", "FORWARD"],
    ["security", "FORWARD"],
    ["mangle", "POSTROUTING"],
    ["nat", "POSTROUTING"],
  ],
  OUTPUT: [["raw", "OUTPUT"], "conntrack", ["mangle", "OUTPUT"], ["nat", "OUTPUT"], ["filter", "OUTPUT"], ["security", "OUTPUT"], ["mangle", "POSTROUTING"], ["nat", "POSTROUTING"]],
};

/** Before conntrack (raw) a packet has no entry: xt_conntrack calls that INVALID. */
export const BEFORE_CONNTRACK: TrackedPacket = { state: "INVALID", reply: false, seenReply: false, assured: false, connection: null, nat: null };
export const UNTRACKED_PACKET: TrackedPacket = { state: "UNTRACKED", reply: false, seenReply: false, assured: false, connection: null, nat: null };

interface CompiledTable {
  readonly name: string;
  readonly chains: CompiledChain[];
  readonly chainIndex: Map<string, number>;
}

/**
 * With `problems`, every rule the model cannot run is noted there (named by
 * file and line) and left out, so `firewall check` can list them all at once;
 * without it, the first one throws.
 */
function compileTables(ruleset: Ruleset, state: MatchState, problems?: RulesetError[]): CompiledFirewall {
  const note = (error: unknown) => {
    if (!problems || !(error instanceof RulesetError)) throw error;
    problems.push(ruleset.source && !error.message.startsWith(`${ruleset.source}: `) ? new RulesetError(error.code, `${ruleset.source}: ${error.message}`) : error);
  };
  const counterLabels: Array<{ chain: string; index: number }> = [];
  const tables = new Map<string, CompiledTable>();
  for (const table of ruleset.tables.values()) {
    const builtins = [...table.chains.values()].filter((chain) => chain.policy !== null).map((chain) => chain.name);
    checkJumps(new Map([...table.chains.values()].map((chain) => [chain.name, chain.rules])), builtins, state.settings.iptablesNft);
    checkUserChainHooks(table, note);
    tables.set(table.name, compileTable(table, state, counterLabels, note, ruleset.family ?? 4));
  }
  // Without a filter table every hook accepts there, as with no rules at all.
  if (!tables.has("filter")) {
    const empty: Table = { name: "filter", chains: new Map(builtinChains.filter!.map((name): [string, Chain] => [name, { name, policy: "ACCEPT", rules: [] }])) };
    tables.set("filter", compileTable(empty, state, counterLabels, note));
  }
  const packetCounts = new Float64Array(counterLabels.length);
  const byteCounts = new Float64Array(counterLabels.length);
  const routes = {} as Record<FilterHook, Stage[]>;
  for (const hook of Object.keys(ROUTES) as FilterHook[]) {
    routes[hook] = ROUTES[hook].flatMap((step): Stage[] => {
      if (step === "conntrack") return ["conntrack"];
      const table = tables.get(step[0]);
      const index = table?.chainIndex.get(step[1]);
      if (!table || index === undefined) return [];
      const [name, stageHook] = step;
      return [
        {
          table: name,
          hook: stageHook,
          chain: table.chains[index]!,
          isNat: name === "nat",
          isFilter: name === "filter",
          hasOutInterface: stageHook !== "INPUT" && stageHook !== "PREROUTING",
          hasInInterface: stageHook !== "OUTPUT" && stageHook !== "POSTROUTING" && hook !== "OUTPUT",
        },
      ];
    });
  }
  /** Each hook's one chain when its route is conntrack and then that chain alone, the route most rulesets make. */
  const filterAfterConntrack = {} as Record<FilterHook, ChainStage | null>;
  for (const hook of Object.keys(routes) as FilterHook[]) {
    const [first, second, ...rest] = routes[hook];
    filterAfterConntrack[hook] = first === "conntrack" && second !== undefined && second !== "conntrack" && !second.isNat && rest.length === 0 ? second : null;
  }
  const filterHook: Record<FilterHook, CompiledChain> = {
    INPUT: chainOf(tables.get("filter")!, "INPUT"),
    FORWARD: chainOf(tables.get("filter")!, "FORWARD"),
    OUTPUT: chainOf(tables.get("filter")!, "OUTPUT"),
  };
  /** Only the filter table, nothing that changes packets or conntrack: judged straight, as before there were tables. */
  const filterOnly = [...tables.keys()].every((name) => name === "filter");
  const stackChain: CompiledChain[] = [];
  const stackRule: number[] = [];
  const hotdrop = hotdropOf(state);
  /** The packet as the rules so far left it: an effect that rewrites bytes replaces it. */
  let current: Packet;

  const walk = (start: CompiledChain, context: PacketContext, inName: string, outName: string): Judgement => {
    let chain = start;
    let position = 0;
    let depth = 0;
    for (;;) {
      if (position >= chain.rules.length) {
        if (chain.policyJudgement) {
          packetCounts[chain.policyCounterSlot]!++;
          byteCounts[chain.policyCounterSlot]! += current.bytes.length;
          return chain.policyJudgement;
        }
        // Falling off a user chain returns to the rule after the jump.
        depth--;
        chain = stackChain[depth]!;
        position = stackRule[depth]!;
        continue;
      }
      const rule = chain.rules[position]!;
      position++;
      if (!ruleMatches(rule, current, context, inName, outName)) {
        if (hotdrop.dropped) {
          hotdrop.dropped = false;
          return { accepted: false, rule: { ...rule.judgement.rule, target: "DROP", comment: `hotdrop: ${hotdrop.reason}` } };
        }
        continue;
      }
      packetCounts[rule.counterSlot]!++;
      byteCounts[rule.counterSlot]! += current.bytes.length;
      switch (rule.action) {
        case Action.None:
          if (rule.effect) current = rule.effect(current, context) ?? current;
          continue;
        case Action.Accept:
        case Action.Drop:
          return rule.judgement;
        case Action.Return:
          if (depth === 0) {
            packetCounts[chain.policyCounterSlot]!++;
            byteCounts[chain.policyCounterSlot]! += current.bytes.length;
            return chain.policyJudgement!;
          }
          depth--;
          chain = stackChain[depth]!;
          position = stackRule[depth]!;
          continue;
        case Action.Jump:
          stackChain[depth] = chain;
          stackRule[depth] = position;
          depth++;
          chain = rule.tableChains[rule.jumpTo]!;
          position = 0;
          continue;
        case Action.Goto:
          chain = rule.tableChains[rule.jumpTo]!;
          position = 0;
          continue;
      }
    }
  };

  const localAddresses = state.localAddresses ?? [];
  const isLocal = (address: number) => address >>> 24 === 127 || localAddresses.includes(address);

  // One packet's state, result and context, refilled for each: a record made per packet is what the route's speed went on.
  // A route is never entered again while one runs (matches and targets do not judge), and callers read the result before the next.
  const skb: SkbState = { mark: 0, notrack: false, helper: "" };
  const context = refilledContext(skb);
  const result: { -readonly [K in keyof RouteJudgement]: RouteJudgement[K] } = { accepted: false, rule: { chain: "", index: 0, target: "" }, packet: null as unknown as Packet, tracked: BEFORE_CONNTRACK, route: "INPUT" };
  const routeResult = (accepted: boolean, rule: RuleRef, tracked: TrackedPacket, route: FilterHook): RouteJudgement => {
    result.accepted = accepted;
    result.rule = rule;
    result.packet = current;
    result.tracked = tracked;
    result.route = route;
    return result;
  };

  /** The context brought up to date for a stage: the matches read it while its chain runs. */
  const enterStage = (stage: ChainStage, tracked: TrackedPacket, outInterface: string) => {
    context.ctState = tracked.state;
    context.ctReply = tracked.reply;
    context.ctSeenReply = tracked.seenReply;
    context.ctAssured = tracked.assured;
    context.outInterface = stage.hasOutInterface ? outInterface : "";
    context.hook = stage.hook;
    context.connection = tracked.connection;
  };

  const judgeRoute = (hook: FilterHook, packet: Packet, start: RouteStart, tracker: ConnectionTracker): RouteJudgement => {
    current = packet;
    skb.mark = 0;
    skb.notrack = false;
    skb.helper = "";
    context.jiffies = start.jiffies;
    context.clockNs = start.clockNs ?? ((start.jiffies - state.settings.startJiffies) * 1e9) / state.settings.hz;
    context.connection = null;
    const only = filterAfterConntrack[hook];
    if (only) {
      // A route of conntrack and one chain (a ruleset of the filter table alone): judged without walking the stages.
      const tracked = tracker.track(packet, skb);
      enterStage(only, tracked, start.outInterface);
      const judgement = walk(only.chain, context, only.hasInInterface ? packet.inInterface : "", context.outInterface);
      return routeResult(judgement.accepted, judgement.rule, tracked, hook);
    }
    let tracked = BEFORE_CONNTRACK;
    let decided: Judgement | null = null;
    let route = hook;
    let stages = routes[hook];
    for (let at = 0; at < stages.length; at++) {
      const stage = stages[at]!;
      if (stage === "conntrack") {
        tracked = skb.notrack ? UNTRACKED_PACKET : tracker.track(current, skb);
        continue;
      }
      enterStage(stage, tracked, start.outInterface);
      const inName = stage.hasInInterface ? current.inInterface : "";
      if (stage.isNat) {
        // An untracked packet is never NATed; a connection's later packets take its binding without the table.
        const nat = tracked.nat;
        if (!nat) continue;
        const type = manipTypeOf(stage.hook);
        if (!nat.initialized(type)) {
          const judgement = walk(stage.chain, context, inName, context.outInterface);
          if (!judgement.accepted) return routeResult(false, judgement.rule, tracked, route);
          nat.bind(type, judgement.nat?.type === type ? resolveNatTarget(judgement.nat, current, localAddresses) : null);
        }
        const to = nat.rewrite(type, tracked.reply);
        const before = current.dst;
        if (to) current = natRewrite(current, type, to);
        // Routing follows PREROUTING: a new destination can turn a packet for the host into one it forwards, and back.
        if (stage.hook === "PREROUTING" && current.dst !== before && (route === "INPUT" || route === "FORWARD")) {
          const next: FilterHook = isLocal(current.dst) ? "INPUT" : "FORWARD";
          if (next !== route) {
            route = next;
            stages = routes[next];
            at = stages.findIndex((candidate) => candidate !== "conntrack" && candidate.table === "nat" && candidate.hook === "PREROUTING");
          }
        }
        continue;
      }
      const judgement = walk(stage.chain, context, inName, context.outInterface);
      if (!judgement.accepted) return routeResult(false, judgement.rule, tracked, route);
      if (stage.isFilter) decided = judgement;
    }
    return routeResult(true, decided!.rule, tracked, route);
  };

  const judge = (hook: FilterHook, packet: Packet, context: PacketContext): Judgement => {
    if (filterOnly) {
      current = packet;
      return walk(filterHook[hook], context, hook === "OUTPUT" ? "" : packet.inInterface, context.outInterface);
    }
    const nat = context.ctState === "UNTRACKED" || context.ctState === "INVALID" ? null : oneShotNat();
    // A judgement of its own: callers of judge() may keep it past the next packet.
    const judged = judgeRoute(hook, packet, routeStartOf(context), trackerOf(context, nat));
    return { accepted: judged.accepted, rule: judged.rule };
  };

  return {
    judge,
    judgeRoute,
    counters: () => counterLabels.map((label, slot) => ({ ...label, packets: packetCounts[slot]!, bytes: byteCounts[slot]! })),
  };
}

/** Conntrack as a caller's context says it is, for judging without a conntrack table. */
export function trackerOf(context: PacketContext, nat: ConnectionNat | null): ConnectionTracker {
  return {
    track: () => ({
      state: context.ctState,
      reply: context.ctReply,
      seenReply: context.ctSeenReply,
      assured: context.ctAssured,
      connection: context.connection === undefined ? { mark: 0 } : context.connection,
      nat,
    }),
  };
}

/** Where a route starts, from a caller's context. */
export function routeStartOf(context: PacketContext): RouteStart {
  return { jiffies: context.jiffies, ...(context.clockNs === undefined ? {} : { clockNs: context.clockNs }), outInterface: context.outInterface };
}

function chainOf(table: CompiledTable, name: string): CompiledChain {
  return table.chains[table.chainIndex.get(name)!]!;
}

function compileTable(table: Table, state: MatchState, counterLabels: Array<{ chain: string; index: number }>, note: (error: unknown) => void, family: IpFamily = 4): CompiledTable {
  const chainIndex = new Map<string, number>();
  [...table.chains.keys()].forEach((name, index) => chainIndex.set(name, index));
  const chains: CompiledChain[] = [];
  for (const chain of table.chains.values()) {
    const label = qualifiedChain(table.name, chain.name);
    const rules: CompiledRule[] = [];
    for (const rule of chain.rules) {
      try {
        const compiled = compileRule(rule, state, chainIndex, chains, counterLabels.length, family);
        counterLabels.push({ chain: label, index: rule.index });
        rules.push(compiled);
      } catch (error) {
        note(error);
      }
    }
    let policyJudgement: Judgement | null = null;
    let policyCounterSlot = -1;
    if (chain.policy) {
      counterLabels.push({ chain: label, index: 0 });
      policyCounterSlot = counterLabels.length - 1;
      policyJudgement = { accepted: chain.policy === "ACCEPT", rule: { chain: label, index: 0, target: chain.policy, comment: `policy ${chain.policy}`, ...(family === 6 ? { family } : {}) } };
    }
    chains.push({ name: chain.name, rules, policyJudgement, policyCounterSlot });
  }
  return { name: table.name, chains, chainIndex };
}

/**
 * The kernel checks a target's hooks for every chain that reaches it
 * (xt_check_target with the chain's hook mask): a user chain reached from
 * INPUT cannot DNAT. Built-in chains were checked when parsed.
 */
function checkUserChainHooks(table: Table, note: (error: unknown) => void): void {
  const hooksOf = new Map<string, Set<string>>();
  for (const builtin of [...table.chains.values()].filter((chain) => chain.policy !== null)) {
    const queue = [builtin.name];
    while (queue.length) {
      const name = queue.pop()!;
      for (const rule of table.chains.get(name)?.rules ?? []) {
        const target = rule.target?.chain;
        if (!target || (rule.target!.kind !== "jump" && rule.target!.kind !== "goto")) continue;
        const hooks = hooksOf.get(target) ?? new Set<string>();
        if (hooks.has(builtin.name)) continue;
        hooks.add(builtin.name);
        hooksOf.set(target, hooks);
        queue.push(target);
      }
    }
  }
  for (const [name, hooks] of hooksOf) {
    for (const rule of table.chains.get(name)?.rules ?? []) {
      const allowed = rule.target ? targetPlaces[rule.target.kind]?.hooks : undefined;
      const wrong = allowed ? [...hooks].find((hook) => !allowed.includes(hook)) : undefined;
      if (wrong) {
        note(new RulesetError("RULESET_REJECTED", `-j ${rule.target!.kind} in chain ${name} is reached from ${wrong}, but is only valid in ${allowed!.join(", ")} (iptables-restore refuses this rule)`, rule.line));
      }
    }
  }
}
function ruleMatches(rule: CompiledRule, packet: Packet, context: PacketContext, inName: string, outName: string): boolean {
  if (rule.protocol >= 0 && (packet.protocol === rule.protocol) === rule.protocolNegated) return false;
  if (rule.srcMask !== 0 || rule.srcNegated) {
    if (((packet.src & rule.srcMask) >>> 0 === rule.srcNet) === rule.srcNegated) return false;
  }
  if (rule.dstMask !== 0 || rule.dstNegated) {
    if (((packet.dst & rule.dstMask) >>> 0 === rule.dstNet) === rule.dstNegated) return false;
  }
  if (rule.fragment >= 0 && (packet.fragmentOffset !== 0 ? 1 : 0) !== rule.fragment) return false;
  if (rule.inInterface && !interfaceMatches(rule.inInterface, inName)) return false;
  if (rule.outInterface && !interfaceMatches(rule.outInterface, outName)) return false;
  const matches = rule.matches;
  for (let m = 0; m < matches.length; m++) if (!matches[m]!(packet, context)) return false;
  return true;
}

/** ip_packet_match: "eth+" matches any name starting with "eth". */
function interfaceMatches(test: InterfaceTest, name: string): boolean {
  const hit = test.prefix ? name.startsWith(test.name) : name === test.name;
  return hit !== test.negated;
}

function compileAddress(spec: Negatable<string> | undefined, rule: Rule, flag: string): { mask: number; net: number; negated: boolean } {
  if (!spec) return { mask: 0, net: 0, negated: false };
  try {
    const cidr = parseCidr(spec.value.includes("/") ? spec.value : `${spec.value}/32`);
    return { mask: cidr.mask >>> 0, net: (cidr.network & cidr.mask) >>> 0, negated: spec.negated };
  } catch (error) {
    if (error instanceof AddressError) {
      throw new RulesetError("RULESET_SYNTAX", `${flag} ${spec.value}: ${error.message}; the model reads IPv4 addresses and CIDRs (no host names)`, rule.line);
    }
    throw error;
  }
}

/** Matches whose options or reading are IPv4's in the model (addresses, ICMP). */
const IPV4_ONLY_MATCHES = new Set(["iprange", "addrtype", "icmp"]);

const NO_ADDRESS = { mask: 0, net: 0, negated: false };

function compileAddress6(spec: Negatable<string> | undefined, rule: Rule, end: "src" | "dst"): CompiledMatch[] {
  if (!spec) return [];
  let cidr: Ipv6Cidr;
  try {
    cidr = parseIpv6Cidr(spec.value);
  } catch (error) {
    if (error instanceof AddressError) {
      throw new RulesetError("RULESET_SYNTAX", `${end === "src" ? "-s" : "-d"} ${spec.value}: ${error.message}; ip6tables rules take IPv6 addresses and prefixes (no host names)`, rule.line);
    }
    throw error;
  }
  const { network, prefixLength } = cidr;
  const negated = spec.negated;
  return [end === "src" ? (packet) => ipv6InPrefix(packet.src, network, prefixLength) !== negated : (packet) => ipv6InPrefix(packet.dst, network, prefixLength) !== negated];
}

function compileInterface(spec: Negatable<string> | undefined): InterfaceTest | null {
  if (!spec) return null;
  const prefix = spec.value.endsWith("+");
  return { name: prefix ? spec.value.slice(0, -1) : spec.value, prefix, negated: spec.negated };
}

function compileRule(rule: Rule, state: MatchState, chainIndex: Map<string, number>, tableChains: readonly CompiledChain[], counterSlot: number, family: IpFamily): CompiledRule {
  const protocolName = rule.protocol?.value ?? "all";
  const protocol = protocolNumbers[protocolName] ?? (/^\d+$/.test(protocolName) ? Number(protocolName) : undefined);
  if (protocol === undefined) {
    throw new RulesetError("RULESET_REJECTED", `-p ${protocolName}: unknown protocol (iptables-restore: unknown protocol "${protocolName}" specified); give a name of /etc/protocols (tcp, udp, icmp, gre, esp, ...) or a number 0-255`, rule.line);
  }
  const src = family === 4 ? compileAddress(rule.source, rule, "-s") : NO_ADDRESS;
  const dst = family === 4 ? compileAddress(rule.destination, rule, "-d") : NO_ADDRESS;
  // ip6tables' addresses are 128 bits: checked as matches, ahead of the rule's own, so IPv4's stay plain arithmetic.
  const matches: CompiledMatch[] = family === 6 ? [rule.source, rule.destination].flatMap((spec, index) => compileAddress6(spec, rule, index === 0 ? "src" : "dst")) : [];
  for (const match of rule.matches) {
    const factory = matchFactories[match.module];
    if (family === 6 && IPV4_ONLY_MATCHES.has(match.module)) {
      throw new RulesetError("RULESET_UNSUPPORTED", `-m ${match.module} in ip6tables: the model reads this match for IPv4 only so far; run this ruleset with --engine docker`, rule.line);
    }
    if (!factory) {
      throw new RulesetError("RULESET_UNKNOWN_MATCH", `-m ${match.module}: the model engine does not interpret this match; run this ruleset with --engine docker`, rule.line);
    }
    const compiled = factory(match.options, state, { line: rule.line, text: rule.text, ...(family === 6 ? { family } : {}) });
    matches.push(compiled);
  }
  const target = rule.target;
  let action = Action.None;
  let effect: CompiledRule["effect"] = null;
  let nat: NatTarget | undefined;
  let jumpTo = -1;
  let targetName = "";
  if (target) {
    switch (target.kind) {
      case "ACCEPT":
        action = Action.Accept;
        targetName = "ACCEPT";
        break;
      case "DROP":
      case "REJECT":
        action = Action.Drop;
        targetName = target.kind;
        break;
      case "RETURN":
        action = Action.Return;
        targetName = "RETURN";
        break;
      case "SET": {
        action = Action.None;
        targetName = "SET";
        const changeSet = compileSetTarget(target.options, state, { line: rule.line, text: rule.text, family });
        effect = (packet, context) => {
          changeSet(packet, context);
        };
        break;
      }
      case "MARK":
      case "CONNMARK":
      case "CT":
      case "NOTRACK":
      case "DSCP":
      case "TTL":
      case "TCPMSS":
        action = Action.None;
        targetName = target.kind;
        effect = compileTargetEffect(target, rule);
        break;
      case "DNAT":
      case "SNAT":
      case "MASQUERADE":
      case "REDIRECT":
        if (family === 6) throw new RulesetError("RULESET_UNSUPPORTED", `-j ${target.kind} in ip6tables: the model does not translate IPv6 addresses yet; run this ruleset with --engine docker`, rule.line);
        // NF_ACCEPT with a binding: the nat table stops at the first mapping.
        action = Action.Accept;
        targetName = target.kind;
        nat = compileNatTarget(target, rule.chain, rule.line);
        break;
      case "LOG":
      case "NFLOG":
        // Non-terminal (XT_CONTINUE): the packet goes on to the next rule.
        action = Action.None;
        targetName = target.kind;
        break;
      case "jump":
      case "goto":
        action = target.kind === "jump" ? Action.Jump : Action.Goto;
        jumpTo = chainIndex.get(target.chain!)!;
        targetName = target.chain!;
        break;
    }
  }
  const ref: RuleRef = { chain: qualifiedChain(rule.table, rule.chain), index: rule.index, target: targetName, ...(rule.comment !== undefined ? { comment: rule.comment } : {}), ...(family === 6 ? { family } : {}) };
  return {
    protocol: protocol === 0 ? -1 : protocol,
    protocolNegated: rule.protocol?.negated ?? false,
    srcMask: src.mask,
    srcNet: src.net,
    srcNegated: src.negated,
    dstMask: dst.mask,
    dstNet: dst.net,
    dstNegated: dst.negated,
    inInterface: compileInterface(rule.inInterface),
    outInterface: compileInterface(rule.outInterface),
    fragment: rule.fragment ? (rule.fragment.negated ? 0 : 1) : -1,
    matches,
    action,
    jumpTo,
    tableChains,
    judgement: { accepted: action === Action.Accept, rule: ref, ...(nat ? { nat } : {}) },
    counterSlot,
    effect,
  };
}
