import { isIpv6Value } from "../../../net/ipv6-address.js";
import type { NftSet, NftToken } from "../../../firewall/nft/nft-ruleset.js";
import { parseNftDuration } from "../../../firewall/nft/parse-nft.js";
import type { ConnectionMarks } from "../netfilter/match.js";
import { compileNameValue, compileNumberValue, NftValueError, parseSingleValue, type FieldType } from "./nft-values.js";
import { parseMapVerdict, type NftVerdict } from "./nft-verdict.js";

/**
 * A named set or map at run time, as nf_tables keeps one (nft_set_hash for
 * dynamic sets, nft_set_rbtree for intervals): elements keyed by the
 * number they hold, each with its expiry in jiffies (nft_set_elem_expired:
 * gone once jiffies reach it), a map's data (a verdict or a number), and
 * the per-element state a set statement gave it (its limit). Interval
 * elements (prefixes, ranges) are static.
 */
export interface NftSetElement {
  /** jiffies at which the element lapses; Infinity for none. */
  expires: number;
  /** A map element's data: the verdict of a verdict map, the number of a data map; null in a set. */
  readonly data: NftMapData | null;
  /**
   * The stateful expressions a set statement attached, each the element's
   * own (`update @s { ip saddr limit rate ... }` a bucket, `ct count` a list
   * of connections), run in order: one that does not hold breaks the rule.
   */
  readonly expressions: NftElementExpression[];
}

export type NftMapData = NftVerdict | number;

/** What an element's expression reads of the packet being judged (NftPacketState has it). */
export interface NftElementInput {
  readonly clockNs: number;
  /** The packet: its length (skb->len) is a byte rate's cost. */
  readonly packet: { readonly bytes: Uint8Array };
  readonly jiffies: number;
  readonly connection: ConnectionMarks | null;
  readonly ctAssured: boolean;
}

/** One element's stateful expression (its own copy: nft_dynset_new clones them). */
export interface NftElementExpression {
  /** True when it holds for this packet; false breaks the rule. */
  holds(input: NftElementInput): boolean;
  /** The set's gc worker's call (the expression's ops->gc): true when the element should go (ct count's list emptied). */
  collect?(jiffies: number): boolean;
}

/** A concatenation's values (`ip saddr . udp dport`) in field order: numbers, and interface names as text. */
export type NftTuple = ReadonlyArray<number | string>;

/** A concatenated element's key in the set's map: its values joined (interface names hold no NUL). */
const tupleKey = (tuple: NftTuple): string => tuple.join("\0");
/** The words after an element's key: its timeout, what it has left, its comment or counter. */
const ELEMENT_OPTIONS = new Set(["timeout", "expires", "comment", "counter"]);

/** The key and data types the model reads, as `type` names them. */
const KEY_TYPES = new Set<string>(["ipv4_addr", "ipv6_addr", "inet_service", "mark", "inet_proto", "integer", "ct_state", "ct_status", "ct_dir", "pkttype", "ether_type", "dscp", "ifname"]);
const DATA_TYPES = new Set<string>(["verdict", "mark", "inet_service", "ipv4_addr", "inet_proto"]);

export class RuntimeNftSet {
  readonly name: string;
  /** The key's type; a concatenation's first field's (its fields are `types`). */
  readonly type: FieldType;
  /** The key's fields: one, or a concatenation's (`type ipv4_addr . inet_service`). */
  readonly types: readonly FieldType[];
  /** The key type as nft writes it, which a lookup's key must have. */
  readonly keyType: string;
  /** A map's data type; null for a set. */
  readonly data: string | null;
  /** Timeout in jiffies elements get when a statement gives none; 0 for none. */
  readonly timeoutJiffies: number;
  /** Elements the set can hold; 0 for no limit. */
  readonly size: number;
  /** By the number they hold, or a concatenation's by its values joined (tupleKey). */
  private readonly elements = new Map<number | string, NftSetElement>();
  private readonly intervals: Array<{ readonly test: (value: number) => boolean; readonly element: NftSetElement }> = [];
  /** jiffies of the set's gc worker's first run (queued when the set is made, every HZ after). */
  private readonly firstGcJiffies: number;
  private readonly gcIntervalJiffies: number;
  /** The gc runs the model has made up for so far (it runs them lazily, when the set is next read). */
  private gcRuns = 0;
  /** Some element has an expression the gc worker calls (ct count): the worker matters. */
  private collectable = false;
  /** Concatenated elements with a prefix, range or wildcard in a field (nft_set_pipapo): one test per field. */
  private readonly tupleIntervals: Array<{ readonly tests: ReadonlyArray<(value: number | string) => boolean>; readonly element: NftSetElement }> = [];

  /** `chains`: the table's chains, which a verdict map's jump and goto name. */
  constructor(spec: NftSet, hz: number, startJiffies: number, chains: ReadonlySet<string> = new Set()) {
    const what = spec.data === null ? "set" : "map";
    if (spec.type.length === 0 || spec.type.some((type) => !KEY_TYPES.has(type)) || (spec.type.length === 1 && spec.type[0] === "ifname")) {
      throw new NftValueError(`${what} ${spec.name}: type ${spec.type.join(" . ")} is not modelled (ipv4_addr, ipv6_addr, inet_service, inet_proto, mark, ether_type and dscp are, and concatenations of them and ifname)`);
    }
    if (spec.data !== null && !DATA_TYPES.has(spec.data)) throw new NftValueError(`map ${spec.name}: data type ${spec.data} is not modelled (verdict, mark, inet_service, inet_proto and ipv4_addr are)`);
    this.name = spec.name;
    this.types = spec.type as FieldType[];
    this.type = this.types[0]!;
    this.keyType = this.types.join(" . ");
    this.data = spec.data;
    this.timeoutJiffies = msToJiffies(spec.timeoutMs, hz);
    // nf_tables_newset takes a gc-interval only for a set with timeouts.
    if (spec.gcIntervalMs && !spec.flags.has("timeout") && !spec.timeoutMs) throw new NftValueError(`${what} ${spec.name}: gc-interval needs flags timeout (or a timeout), as the kernel refuses it otherwise`);
    // nft_set_gc_interval: the set's gc-interval, else HZ.
    this.gcIntervalJiffies = spec.gcIntervalMs ? Math.max(1, msToJiffies(spec.gcIntervalMs, hz)) : hz;
    this.firstGcJiffies = startJiffies + this.gcIntervalJiffies;
    // nft gives a dynamic set without a size 65535 elements (what `nft list` then shows).
    this.size = spec.size || (spec.flags.has("dynamic") ? 65535 : 0);
    if (this.types.length === 1 && this.type === "ipv6_addr") {
      for (const tokens of spec.elements) {
        const text = tokens[0]?.text ?? "";
        if (!isIpv6Value(text)) throw new NftValueError(`${what} ${spec.name}: element "${text}" is not an IPv6 address, prefix or range`);
      }
    }
    for (const tokens of spec.elements) {
      const where = `${what} ${spec.name}: element "${tokens.map((token) => token.text).join(" ")}"`;
      const colon = tokens.findIndex((token) => token.text === ":" && !token.quoted);
      if ((colon >= 0) !== (spec.data !== null)) throw new NftValueError(`${where}: ${spec.data === null ? "a set's element has no data (: DATA belongs in a map)" : "a map's element is KEY : DATA"}`);
      const written = colon >= 0 ? tokens.slice(0, colon) : tokens;
      const optionsAt = written.findIndex((token) => !token.quoted && ELEMENT_OPTIONS.has(token.text));
      const keyTokens = optionsAt < 0 ? written : written.slice(0, optionsAt);
      const rest = optionsAt < 0 ? [] : written.slice(optionsAt);
      if (keyTokens.length === 0) throw new NftValueError(`${where}: the key is missing`);
      const data = colon >= 0 ? this.dataOf(tokens.slice(colon + 1), chains, where) : null;
      const expires = this.expiryOf(rest, where, hz, startJiffies);
      if (this.types.length > 1) {
        this.addTuple(keyTokens, { expires, data, expressions: [] }, where);
        continue;
      }
      if (keyTokens.length > 1) throw new NftValueError(`${where}: one ${this.type} expected${keyTokens.some((token) => token.text === "." && !token.quoted) ? ` (the ${what}'s type is not a concatenation)` : ""}`);
      const text = keyTokens[0]!.text;
      if (/[/-]/.test(text) && expires === Infinity) this.intervals.push({ test: compileNumberValue([keyTokens[0]!], this.type), element: { expires, data, expressions: [] } });
      else this.elements.set(this.keyOf(text, where), { expires, data, expressions: [] });
    }
  }

  /** `[timeout T] [expires LEFT] [comment C] [counter]`: it lasts what it has left, else its whole timeout; Infinity without either. */
  private expiryOf(options: readonly NftToken[], where: string, hz: number, startJiffies: number): number {
    const words = options.map((token) => token.text);
    const at = words.includes("expires") ? words.indexOf("expires") : words.indexOf("timeout");
    if (at < 0) {
      if (words.length > 0 && !words.includes("comment") && !words.includes("counter")) throw new NftValueError(`${where} is not modelled (an element with timeout or expires is)`);
      return Infinity;
    }
    const lasting = parseNftDuration(words[at + 1] ?? "");
    if (lasting === null) throw new NftValueError(`${where} is not modelled (an element with timeout or expires is)`);
    return startJiffies + msToJiffies(lasting, hz);
  }

  /** A concatenated element: its fields split at the dots, each read as its own type; one with a prefix, range or wildcard is an interval. */
  private addTuple(keyTokens: readonly NftToken[], element: NftSetElement, where: string): void {
    const fields: NftToken[][] = [[]];
    for (const token of keyTokens) {
      if (token.text === "." && !token.quoted) fields.push([]);
      else fields[fields.length - 1]!.push(token);
    }
    if (fields.length !== this.types.length || fields.some((field) => field.length !== 1)) {
      throw new NftValueError(`${where}: expected ${this.types.length} values joined by " . " (${this.keyType})`);
    }
    const texts = fields.map((field) => field[0]!);
    const isInterval = texts.some((token, index) => (this.types[index] === "ifname" ? token.text.endsWith("*") : /[/-]/.test(token.text)));
    try {
      if (isInterval) {
        const tests = texts.map((token, index): ((value: number | string) => boolean) => {
          const type = this.types[index]!;
          if (type === "ifname") {
            const test = compileNameValue([token]);
            return (value) => typeof value === "string" && test(value);
          }
          const test = compileNumberValue([token], type);
          return (value) => typeof value === "number" && test(value);
        });
        this.tupleIntervals.push({ tests, element });
        return;
      }
      this.elements.set(tupleKey(texts.map((token, index) => (this.types[index] === "ifname" ? token.text : parseSingleValue(token.text, this.types[index]!)))), element);
    } catch (error) {
      throw new NftValueError(`${where}: ${(error as Error).message}`);
    }
  }

  private keyOf(text: string, where: string): number {
    try {
      return parseSingleValue(text, this.type);
    } catch (error) {
      throw new NftValueError(`${where}: ${(error as Error).message}`);
    }
  }

  private dataOf(tokens: readonly NftToken[], chains: ReadonlySet<string>, where: string): NftMapData {
    const words = tokens.map((token) => token.text);
    try {
      if (this.data === "verdict") return parseMapVerdict(words, chains);
      if (words.length !== 1) throw new NftValueError(`expected one ${this.data} after the colon`);
      return parseSingleValue(words[0]!, this.data as FieldType) >>> 0;
    } catch (error) {
      throw new NftValueError(`${where}: ${(error as Error).message}`);
    }
  }

  /** nft_lookup: the live element holding the value, or null. */
  lookup(value: number, jiffies: number): NftSetElement | null {
    if (this.collectable) this.runGc(jiffies);
    const element = this.elements.get(value);
    if (element && jiffies < element.expires) return element;
    for (const interval of this.intervals) if (interval.test(value)) return interval.element;
    return null;
  }

  has(value: number, jiffies: number): boolean {
    return this.lookup(value, jiffies) !== null;
  }

  /**
   * nft_dynset's update: the live element, or a new one (null when the set
   * is full, which breaks the rule). `refresh` (update, not add) restarts a
   * found element's timeout.
   */
  upsert(value: number, jiffies: number, timeoutJiffies: number, refresh: boolean): { element: NftSetElement; created: boolean } | null {
    return this.upsertKey(value, jiffies, timeoutJiffies, refresh);
  }

  private upsertKey(value: number | string, jiffies: number, timeoutJiffies: number, refresh: boolean): { element: NftSetElement; created: boolean } | null {
    if (this.collectable) this.runGc(jiffies);
    const found = this.elements.get(value);
    const lasting = timeoutJiffies || this.timeoutJiffies;
    if (found && jiffies < found.expires) {
      if (refresh && found.expires !== Infinity && lasting) found.expires = jiffies + lasting;
      return { element: found, created: false };
    }
    if (found) this.elements.delete(value);
    if (this.size > 0 && this.elements.size >= this.size && this.liveCount(jiffies) >= this.size) return null;
    const element: NftSetElement = { expires: lasting ? jiffies + lasting : Infinity, data: null, expressions: [] };
    this.elements.set(value, element);
    return { element, created: true };
  }

  /** nft_lookup with a concatenated key: the live element holding the values, or null. */
  lookupTuple(tuple: NftTuple, jiffies: number): NftSetElement | null {
    if (this.collectable) this.runGc(jiffies);
    const element = this.elements.get(tupleKey(tuple));
    if (element && jiffies < element.expires) return element;
    for (const interval of this.tupleIntervals) if (interval.tests.every((test, index) => test(tuple[index]!))) return interval.element;
    return null;
  }

  /** upsert with a concatenated key. */
  upsertTuple(tuple: NftTuple, jiffies: number, timeoutJiffies: number, refresh: boolean): { element: NftSetElement; created: boolean } | null {
    return this.upsertKey(tupleKey(tuple), jiffies, timeoutJiffies, refresh);
  }

  /** An element's expression will need the gc worker's calls (a set statement gave it ct count). */
  expressionsAdded(element: NftSetElement): void {
    if (element.expressions.some((expression) => expression.collect)) this.collectable = true;
  }

  /**
   * The gc worker's runs due by `jiffies` (nft_rhash_gc every interval):
   * each element's ct count list is collected at the run's time, and an
   * element whose list it empties is removed. At most a few runs are made
   * up at once: each collects up to CONNCOUNT_GC_MAX_NODES + 1 connections
   * a list, and lists longer than that are rare.
   */
  private runGc(jiffies: number): void {
    const due = jiffies < this.firstGcJiffies ? 0 : Math.floor((jiffies - this.firstGcJiffies) / this.gcIntervalJiffies) + 1;
    if (due <= this.gcRuns) return;
    for (let run = Math.max(this.gcRuns, due - 16); run < due; run++) {
      const at = this.firstGcJiffies + run * this.gcIntervalJiffies;
      for (const [key, element] of this.elements) {
        let emptied = false;
        for (const expression of element.expressions) if (expression.collect?.(at)) emptied = true;
        if (emptied) this.elements.delete(key);
      }
    }
    this.gcRuns = due;
  }

  /** Elements not yet lapsed; lapsed ones are dropped on the way, as the set's gc would. */
  private liveCount(jiffies: number): number {
    for (const [key, element] of this.elements) if (jiffies >= element.expires) this.elements.delete(key);
    return this.elements.size;
  }
}

/** nf_msecs_to_jiffies64: milliseconds to jiffies, rounded down. */
export function msToJiffies(ms: number, hz: number): number {
  return Math.floor((ms * hz) / 1000);
}
