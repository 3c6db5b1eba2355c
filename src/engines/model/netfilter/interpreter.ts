import { AddressError, parseCidr } from "../../../net/address.js";
import type { Packet } from "../../../net/packet.js";
import { RulesetError, type Negatable, type Rule, type RuleRef, type Ruleset } from "../../../firewall/ruleset.js";
import { hotdropOf, type CompiledMatch, type MatchState, type PacketContext } from "./match.js";
import { matchFactories } from "./match-registry.js";
import { compileSetTarget } from "./matches/set.js";

export type Hook = "INPUT" | "FORWARD" | "OUTPUT";

export interface Judgement {
  readonly accepted: boolean;
  readonly rule: RuleRef;
}

export interface RuleCounter {
  readonly chain: string;
  readonly index: number;
  readonly packets: number;
  readonly bytes: number;
}

export interface CompiledFirewall {
  judge(hook: Hook, packet: Packet, context: PacketContext): Judgement;
  /** Per-rule counters as `iptables-save -c` prints them (index 0 = policy). */
  counters(): RuleCounter[];
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
  readonly jumpTo: number; // chain index for Jump/Goto
  readonly judgement: Judgement;
  readonly counterSlot: number;
  /** A non-terminal target's side effect (SET changes a set), run when the rule matches. */
  readonly effect: ((packet: Packet, context: PacketContext) => void) | null;
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

/** The names iptables resolves through /etc/protocols on Debian, for the protocols a PBX host meets. */
const protocolNumbers: Record<string, number> = { all: -1, tcp: 6, udp: 17, icmp: 1, igmp: 2, ipencap: 4, gre: 47, esp: 50, ah: 51, "ipv6-icmp": 58, icmpv6: 58, sctp: 132, udplite: 136 };

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
 * Compiles the filter table into closures once, then judges packets the way
 * ipt_do_table (net/ipv4/netfilter/ip_tables.c) walks it: rules in order, all
 * matches must hold, a jump pushes a return point and a goto does not, RETURN
 * or the end of a user chain pops, and the end of a built-in chain applies its
 * policy. Judging allocates nothing: every possible Judgement exists up front.
 */
export function compileFirewall(ruleset: Ruleset, state: MatchState, problems?: RulesetError[]): CompiledFirewall {
  try {
    return compileFilterTable(ruleset, state, problems);
  } catch (error) {
    // Match options are checked here, after parsing: the error names the file as parse errors do.
    if (error instanceof RulesetError && ruleset.source && !error.message.startsWith(`${ruleset.source}: `)) throw new RulesetError(error.code, `${ruleset.source}: ${error.message}`);
    throw error;
  }
}

/**
 * With `problems`, every rule the model cannot run is noted there (named by
 * file and line) and left out, so `firewall check` can list them all at once;
 * without it, the first one throws.
 */
function compileFilterTable(ruleset: Ruleset, state: MatchState, problems?: RulesetError[]): CompiledFirewall {
  const note = (error: unknown) => {
    if (!problems || !(error instanceof RulesetError)) throw error;
    problems.push(ruleset.source && !error.message.startsWith(`${ruleset.source}: `) ? new RulesetError(error.code, `${ruleset.source}: ${error.message}`) : error);
  };
  for (const table of ruleset.tables.values()) {
    if (table.name === "filter") continue;
    for (const chain of table.chains.values()) {
      const first = chain.rules[0];
      if (first) {
        note(new RulesetError(
          "RULESET_UNSUPPORTED",
          `table ${table.name} has rules (chain ${chain.name}); the model engine evaluates only the filter table, so results could differ from the kernel; run this ruleset with --engine docker`,
          first.line,
        ));
      }
      if (chain.policy === "DROP") {
        note(new RulesetError("RULESET_UNSUPPORTED", `table ${table.name} chain ${chain.name} has policy DROP; the model engine evaluates only the filter table; use --engine docker`));
      }
    }
  }
  const filter = ruleset.tables.get("filter");
  if (!filter) throw new RulesetError("RULESET_UNSUPPORTED", "the ruleset has no *filter table, so it cannot drop anything; add one");
  const builtins = [...filter.chains.values()].filter((chain) => chain.policy !== null).map((chain) => chain.name);
  checkJumps(new Map([...filter.chains.values()].map((chain) => [chain.name, chain.rules])), builtins, state.settings.iptablesNft);

  const chainIndex = new Map<string, number>();
  [...filter.chains.keys()].forEach((name, index) => chainIndex.set(name, index));
  const counterLabels: Array<{ chain: string; index: number }> = [];
  const chains: CompiledChain[] = [];
  for (const chain of filter.chains.values()) {
    const rules: CompiledRule[] = [];
    for (const rule of chain.rules) {
      try {
        const compiled = compileRule(rule, state, chainIndex, counterLabels.length);
        counterLabels.push({ chain: chain.name, index: rule.index });
        rules.push(compiled);
      } catch (error) {
        note(error);
      }
    }
    let policyJudgement: Judgement | null = null;
    let policyCounterSlot = -1;
    if (chain.policy) {
      counterLabels.push({ chain: chain.name, index: 0 });
      policyCounterSlot = counterLabels.length - 1;
      policyJudgement = { accepted: chain.policy === "ACCEPT", rule: { chain: chain.name, index: 0, target: chain.policy, comment: `policy ${chain.policy}` } };
    }
    chains.push({ name: chain.name, rules, policyJudgement, policyCounterSlot });
  }
  const packetCounts = new Float64Array(counterLabels.length);
  const byteCounts = new Float64Array(counterLabels.length);
  const hookChains: Record<Hook, CompiledChain> = {
    INPUT: chains[chainIndex.get("INPUT")!]!,
    FORWARD: chains[chainIndex.get("FORWARD")!]!,
    OUTPUT: chains[chainIndex.get("OUTPUT")!]!,
  };
  const stackChain: CompiledChain[] = [];
  const stackRule: number[] = [];
  const hotdrop = hotdropOf(state);

  const judge = (hook: Hook, packet: Packet, context: PacketContext): Judgement => {
    let chain = hookChains[hook];
    let position = 0;
    let depth = 0;
    const inName = hook === "OUTPUT" ? "" : packet.inInterface;
    const outName = context.outInterface;
    const length = packet.bytes.length;
    for (;;) {
      if (position >= chain.rules.length) {
        if (chain.policyJudgement) {
          packetCounts[chain.policyCounterSlot]!++;
          byteCounts[chain.policyCounterSlot]! += length;
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
      if (!ruleMatches(rule, packet, context, inName, outName)) {
        if (hotdrop.dropped) {
          hotdrop.dropped = false;
          return { accepted: false, rule: { chain: rule.judgement.rule.chain, index: rule.judgement.rule.index, target: "DROP", comment: `hotdrop: ${hotdrop.reason}` } };
        }
        continue;
      }
      packetCounts[rule.counterSlot]!++;
      byteCounts[rule.counterSlot]! += length;
      switch (rule.action) {
        case Action.None:
          if (rule.effect) rule.effect(packet, context);
          continue;
        case Action.Accept:
        case Action.Drop:
          return rule.judgement;
        case Action.Return:
          if (depth === 0) {
            packetCounts[chain.policyCounterSlot]!++;
            byteCounts[chain.policyCounterSlot]! += length;
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
          chain = chains[rule.jumpTo]!;
          position = 0;
          continue;
        case Action.Goto:
          chain = chains[rule.jumpTo]!;
          position = 0;
          continue;
      }
    }
  };

  return {
    judge,
    counters: () => counterLabels.map((label, slot) => ({ ...label, packets: packetCounts[slot]!, bytes: byteCounts[slot]! })),
  };
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

function compileInterface(spec: Negatable<string> | undefined): InterfaceTest | null {
  if (!spec) return null;
  const prefix = spec.value.endsWith("+");
  return { name: prefix ? spec.value.slice(0, -1) : spec.value, prefix, negated: spec.negated };
}

function compileRule(rule: Rule, state: MatchState, chainIndex: Map<string, number>, counterSlot: number): CompiledRule {
  const protocolName = rule.protocol?.value ?? "all";
  const protocol = protocolNumbers[protocolName] ?? (/^\d+$/.test(protocolName) ? Number(protocolName) : undefined);
  if (protocol === undefined) {
    throw new RulesetError("RULESET_UNSUPPORTED", `-p ${protocolName}: the model knows ${Object.keys(protocolNumbers).join(", ")} and protocol numbers 0-255`, rule.line);
  }
  const src = compileAddress(rule.source, rule, "-s");
  const dst = compileAddress(rule.destination, rule, "-d");
  const matches: CompiledMatch[] = [];
  for (const match of rule.matches) {
    const factory = matchFactories[match.module];
    if (!factory) {
      throw new RulesetError("RULESET_UNKNOWN_MATCH", `-m ${match.module}: the model engine does not interpret this match; run this ruleset with --engine docker`, rule.line);
    }
    const compiled = factory(match.options, state, { line: rule.line, text: rule.text });
    matches.push(compiled);
  }
  const target = rule.target;
  let action = Action.None;
  let effect: CompiledRule["effect"] = null;
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
      case "SET":
        action = Action.None;
        targetName = "SET";
        effect = compileSetTarget(target.options, state, { line: rule.line, text: rule.text });
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
  const ref: RuleRef = { chain: rule.chain, index: rule.index, target: targetName, ...(rule.comment !== undefined ? { comment: rule.comment } : {}) };
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
    judgement: { accepted: action === Action.Accept, rule: ref },
    counterSlot,
    effect,
  };
}
