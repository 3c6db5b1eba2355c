import type { IpSetElement, IpSetSpec } from "../../../../firewall/ipset.js";
import { RulesetError, type RuleOption } from "../../../../firewall/ruleset.js";
import { prefixMask } from "../../../../net/address.js";
import { isIpv6Number, maskedIpv6Number } from "../../../../net/address-number.js";
import type { Packet } from "../../../../net/packet.js";
import type { MatchFactory, MatchState, PacketContext } from "../match.js";
import { MatchOptions } from "./match-options.js";
import type { CompiledFirewall } from "../interpreter.js";

/**
 * ipset sets in the model (net/netfilter/ipset/ip_set_hash_*.c,
 * ip_set_bitmap_port.c, xt_set.c): elements keyed as the kernel compares
 * them, each with its expiry in jiffies (ip_set_timeout_set: now + N s; it
 * lapses once jiffies pass it; 0 means permanent). Sets are shared by name
 * across rules, as the kernel's are.
 */
interface RuntimeSet {
  readonly spec: IpSetSpec;
  /** Element key -> expiry in jiffies, or 0 for permanent. */
  readonly entries: Map<string, number>;
  /** hash:net: the prefix lengths present, most specific first, as the kernel tries them. */
  readonly prefixes: number[];
  /** list:set: its member sets in the order they were added, each tried in turn (list_set_ktest). */
  readonly members: RuntimeSet[];
}

const SETS_KEY = "ipset:sets";
const PORT_PROTOCOLS = new Set([6, 17, 132, 136]);

function setsOf(state: MatchState): Map<string, RuntimeSet> {
  let sets = state.tables.get(SETS_KEY) as Map<string, RuntimeSet> | undefined;
  if (!sets) {
    sets = new Map();
    state.tables.set(SETS_KEY, sets);
  }
  return sets;
}

const elementKey = (element: IpSetElement): string => {
  switch (element.kind) {
    case "ip":
      return String(element.address);
    case "net":
      return `${element.address}/${element.prefix}`;
    case "ip,port":
      return `${element.address},${element.protocol}:${element.port}`;
    case "net,port":
      return `${element.address}/${element.prefix},${element.protocol}:${element.port}`;
    case "port":
      return String(element.port);
    case "set":
      return element.name;
  }
};

const expiryOf = (timeoutSeconds: number | null, now: number, hz: number) => (timeoutSeconds ? now + timeoutSeconds * hz : 0);
const expired = (expiry: number, now: number) => expiry !== 0 && now > expiry;

/** Loads the sets an `ipset restore` would create, as they stand at `now` (jiffies); before compiling the ruleset. */
export function loadIpsets(state: MatchState, specs: ReadonlyMap<string, IpSetSpec>, now: number): void {
  const sets = setsOf(state);
  for (const spec of specs.values()) {
    const set: RuntimeSet = { spec, entries: new Map(), prefixes: [], members: [] };
    for (const entry of spec.entries) addElement(set, entry.element, expiryOf(entry.timeoutSeconds, now, state.settings.hz), true, now);
    sets.set(spec.name, set);
  }
  for (const set of sets.values()) {
    for (const entry of set.spec.entries) if (entry.element.kind === "set") set.members.push(sets.get(entry.element.name)!);
  }
}

/** How many src/dst flags a set's elements take (its type's dimension). */
const dimensionOf = (type: IpSetSpec["type"]): number => (type === "hash:ip,port" || type === "hash:net,port" ? 2 : 1);

function addElement(set: RuntimeSet, element: IpSetElement, expiry: number, exist: boolean, now: number): void {
  const key = elementKey(element);
  const current = set.entries.get(key);
  // Without --exist, adding a live element fails (IPSET_ERR_EXIST) and leaves its timeout as it was.
  if (current !== undefined && !expired(current, now) && !exist) return;
  if (current === undefined && set.entries.size >= set.spec.maxelem) {
    for (const [other, otherExpiry] of set.entries) if (expired(otherExpiry, now)) set.entries.delete(other);
    if (set.entries.size >= set.spec.maxelem) return;
  }
  set.entries.set(key, expiry);
  if ((element.kind === "net" || element.kind === "net,port") && !set.prefixes.includes(element.prefix)) {
    set.prefixes.push(element.prefix);
    set.prefixes.sort((a, b) => b - a);
  }
}

type Direction = "src" | "dst";

/** The element of a set's type a packet stands for, per the rule's src/dst flags; null when it has none (no ports). */
function packetElement(set: RuntimeSet, packet: Packet, flags: readonly Direction[]): IpSetElement | null {
  // ip_set_test: a set of one family never matches a packet of the other.
  if ((set.spec.family === "inet6") !== (packet.family === 6)) return null;
  const addressOf = (direction: Direction) => {
    const address = direction === "src" ? packet.src : packet.dst;
    return set.spec.netmask === undefined ? address : (address & prefixMask(set.spec.netmask)) >>> 0;
  };
  const portOf = (direction: Direction) => (direction === "src" ? packet.sport : packet.dport);
  switch (set.spec.type) {
    case "hash:ip":
      return { kind: "ip", address: addressOf(flags[0]!) };
    case "hash:net":
      return { kind: "net", address: addressOf(flags[0]!), prefix: set.spec.family === "inet6" ? 128 : 32 };
    case "hash:ip,port":
      if (!PORT_PROTOCOLS.has(packet.protocol) || packet.fragmentOffset !== 0) return null;
      return { kind: "ip,port", address: addressOf(flags[0]!), protocol: packet.protocol, port: portOf(flags[1] ?? flags[0]!) };
    case "hash:net,port":
      if (!PORT_PROTOCOLS.has(packet.protocol) || packet.fragmentOffset !== 0) return null;
      return { kind: "net,port", address: addressOf(flags[0]!), prefix: 32, protocol: packet.protocol, port: portOf(flags[1] ?? flags[0]!) };
    case "bitmap:ip": {
      // bitmap_ip_kadt: the address as it is against the range, then stored with the netmask applied.
      const address = flags[0] === "src" ? packet.src : packet.dst;
      const range = set.spec.ipRange!;
      return address < range.from || address > range.to ? null : { kind: "ip", address: addressOf(flags[0]!) };
    }
    case "bitmap:port": {
      if (!PORT_PROTOCOLS.has(packet.protocol) || packet.fragmentOffset !== 0) return null;
      const port = portOf(flags[0]!);
      const range = set.spec.portRange!;
      return port < range.from || port > range.to ? null : { kind: "port", port };
    }
    case "list:set":
      // A list stands for no element of its own: contains() asks its members.
      return null;
  }
}

function contains(set: RuntimeSet, packet: Packet, flags: readonly Direction[], now: number): boolean {
  // list:set: a member matches with the rule's flags; one of more dimensions than the flags give never does (ip_set_test).
  if (set.spec.type === "list:set") return set.members.some((member) => flags.length >= dimensionOf(member.spec.type) && contains(member, packet, flags, now));
  const element = packetElement(set, packet, flags);
  if (!element) return false;
  if (element.kind === "net") {
    for (const prefix of set.prefixes) {
      const network = isIpv6Number(element.address) ? maskedIpv6Number(element.address, prefix) : (element.address & prefixMask(prefix)) >>> 0;
      const expiry = set.entries.get(`${network}/${prefix}`);
      if (expiry !== undefined && !expired(expiry, now)) return true;
    }
    return false;
  }
  if (element.kind === "net,port") {
    // hash:net,port: each prefix present, most specific first, with the packet's protocol and port.
    for (const prefix of set.prefixes) {
      const expiry = set.entries.get(`${(element.address & prefixMask(prefix)) >>> 0}/${prefix},${element.protocol}:${element.port}`);
      if (expiry !== undefined && !expired(expiry, now)) return true;
    }
    return false;
  }
  const expiry = set.entries.get(elementKey(element));
  return expiry !== undefined && !expired(expiry, now);
}

function lookUp(state: MatchState, name: string, where: { line: number; family?: 4 | 6 }): RuntimeSet {
  const set = setsOf(state).get(name);
  if (!set) throw new RulesetError("RULESET_REJECTED", `set ${name} does not exist (iptables-restore: "Set ${name} doesn't exist"); give the ipset save file that creates it (--ipset FILE, or firewall.ipset in a scenario)`, where.line);
  // iptables-restore checks the set's family against the rule's.
  const ruleFamily = where.family ?? 4;
  if (set.spec.family !== "unspec" && (set.spec.family === "inet6") !== (ruleFamily === 6)) {
    throw new RulesetError("RULESET_REJECTED", `set ${name} is family ${set.spec.family}, and this is an ${ruleFamily === 6 ? "ip6tables" : "iptables"} rule (iptables-restore: "The protocol family of set ${name} is ${set.spec.family === "inet6" ? "IPv6" : "IPv4"}, which is not applicable"); give ${ruleFamily === 6 ? "an inet6" : "an inet"} set`, where.line);
  }
  return set;
}

function directions(text: string, set: RuntimeSet, fail: (message: string) => Error): Direction[] {
  const flags = text.split(",");
  if (flags.some((flag) => flag !== "src" && flag !== "dst")) throw fail(`"${text}": flags are src or dst, comma-separated`);
  const wanted = dimensionOf(set.spec.type);
  if (flags.length < wanted) throw fail(`set ${set.spec.name} is ${set.spec.type}: give ${wanted} flags (e.g. ${wanted === 2 ? "src,dst" : "src"})`);
  return flags as Direction[];
}

/** `-m set --match-set NAME FLAGS` (xt_set.c, revision 4), negatable; counters options change nothing the model judges. */
export const setMatch: MatchFactory = (rawOptions, state, where) => {
  const options = new MatchOptions("set", rawOptions, where);
  options.refuse(["return-nomatch", "packets-eq", "packets-lt", "packets-gt", "bytes-eq", "bytes-lt", "bytes-gt"]);
  const option = options.get("match-set");
  if (!option) throw options.error("--match-set NAME FLAGS is required");
  const set = lookUp(state, option.args[0]!, where);
  const flags = directions(option.args[1]!, set, (message) => options.error(`--match-set: ${message}`));
  const negated = option.negated;
  return (packet, context) => contains(set, packet, flags, context.jiffies) !== negated;
};

/** `-j SET --add-set/--del-set NAME FLAGS [--exist] [--timeout N]` (xt_set.c): changes the set and goes on to the next rule. */
export function compileSetTarget(rawOptions: readonly RuleOption[], state: MatchState, where: { line: number; text: string; family?: 4 | 6 }): (packet: Packet, context: PacketContext) => void {
  const options = new MatchOptions("SET", rawOptions, where);
  options.refuse(["map-set", "map-mark", "map-prio", "map-queue"]);
  const add = options.get("add-set");
  const del = options.get("del-set");
  if (!add && !del) throw options.error("give --add-set or --del-set");
  const steps: Array<(packet: Packet, context: PacketContext) => void> = [];
  const timeoutText = options.value("timeout");
  if (timeoutText !== undefined && !/^\d+$/.test(timeoutText)) throw options.error(`--timeout ${timeoutText}: a whole number of seconds`);
  const exist = options.has("exist");
  const hz = state.settings.hz;
  if (add) {
    const set = lookUp(state, add.args[0]!, where);
    const flags = directions(add.args[1]!, set, (message) => options.error(`--add-set: ${message}`));
    if (timeoutText !== undefined && set.spec.timeoutSeconds === null) throw options.error(`--timeout: set ${set.spec.name} was created without a timeout`);
    // hash:net's kadt adds with the prefix of the set's most specific net: not modelled.
    if (set.spec.type === "list:set") throw options.error(`--add-set ${set.spec.name}: adding to a list:set (its first member that takes the element) is not modelled; run this ruleset with --engine docker`, "RULESET_UNSUPPORTED");
    if (set.spec.type === "hash:net" || set.spec.type === "hash:net,port") throw options.error(`--add-set ${set.spec.name}: adding to a ${set.spec.type} from a rule is not modelled; run this ruleset with --engine docker`, "RULESET_UNSUPPORTED");
    const timeout = timeoutText !== undefined ? Number(timeoutText) : set.spec.timeoutSeconds;
    steps.push((packet, context) => {
      const element = packetElement(set, packet, flags);
      if (element) addElement(set, element, expiryOf(timeout, context.jiffies, hz), exist, context.jiffies);
    });
  }
  if (del) {
    const set = lookUp(state, del.args[0]!, where);
    const flags = directions(del.args[1]!, set, (message) => options.error(`--del-set: ${message}`));
    steps.push((packet) => {
      const element = packetElement(set, packet, flags);
      if (element) set.entries.delete(elementKey(element.kind === "net" ? { ...element, prefix: set.spec.family === "inet6" ? 128 : 32 } : element));
    });
  }
  return (packet, context) => {
    for (const step of steps) step(packet, context);
  };
}

/**
 * `ipset -exist add NAME ADDRESS timeout T` from userspace, as fail2ban's
 * ipset ban actions run it: the element's timeout restarts if it is there.
 */
export function addAddressToSet(state: MatchState, name: string, address: number, timeoutSeconds: number, now: number): void {
  const set = setsOf(state).get(name);
  if (!set) throw new Error(`ipset ${name} does not exist`);
  // ipset refuses an address of the other family ("Syntax error: cannot parse ... resolving to IPv4 address failed").
  if ((set.spec.family === "inet6") !== isIpv6Number(address)) return;
  addElement(set, { kind: "ip", address }, expiryOf(timeoutSeconds, now, state.settings.hz), true, now);
}

/** fail2ban's ban: into the nftables ruleset's set of that name when it has one (its nftables action), else into the ipset (iptables-ipset). */
export function banInSet(firewall: CompiledFirewall, state: MatchState, name: string, address: number, timeoutSeconds: number, now: number): void {
  if (firewall.addToNftSet?.(name, address, now, timeoutSeconds * state.settings.hz)) return;
  addAddressToSet(state, name, address, timeoutSeconds, now);
}
