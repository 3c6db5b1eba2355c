import { isIpv6Value } from "../../../net/ipv6-address.js";
import type { NftSet, NftToken } from "../../../firewall/nft/nft-ruleset.js";
import { parseNftDuration } from "../../../firewall/nft/parse-nft.js";
import type { NftLimitBucket } from "./nft-limit.js";
import { compileNumberValue, NftValueError, parseSingleValue, type FieldType } from "./nft-values.js";
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
  /** The buckets of the limits a set statement attached (`update @s { ip saddr limit rate ... }`), one per limit. */
  readonly limits: NftLimitBucket[];
}

export type NftMapData = NftVerdict | number;

/** The key and data types the model reads, as `type` names them. */
const KEY_TYPES = new Set<string>(["ipv4_addr", "ipv6_addr", "inet_service", "mark", "inet_proto", "integer", "ct_state", "pkttype", "ether_type", "dscp"]);
const DATA_TYPES = new Set<string>(["verdict", "mark", "inet_service", "ipv4_addr", "inet_proto"]);

export class RuntimeNftSet {
  readonly name: string;
  readonly type: FieldType;
  /** A map's data type; null for a set. */
  readonly data: string | null;
  /** Timeout in jiffies elements get when a statement gives none; 0 for none. */
  readonly timeoutJiffies: number;
  /** Elements the set can hold; 0 for no limit. */
  readonly size: number;
  private readonly elements = new Map<number, NftSetElement>();
  private readonly intervals: Array<{ readonly test: (value: number) => boolean; readonly element: NftSetElement }> = [];

  /** `chains`: the table's chains, which a verdict map's jump and goto name. */
  constructor(spec: NftSet, hz: number, startJiffies: number, chains: ReadonlySet<string> = new Set()) {
    const what = spec.data === null ? "set" : "map";
    if (spec.type.length !== 1 || !KEY_TYPES.has(spec.type[0]!)) {
      throw new NftValueError(`${what} ${spec.name}: type ${spec.type.join(" . ")} is not modelled (ipv4_addr, ipv6_addr, inet_service, inet_proto, mark, ether_type and dscp are)`);
    }
    if (spec.data !== null && !DATA_TYPES.has(spec.data)) throw new NftValueError(`map ${spec.name}: data type ${spec.data} is not modelled (verdict, mark, inet_service, inet_proto and ipv4_addr are)`);
    this.name = spec.name;
    this.type = spec.type[0] as FieldType;
    this.data = spec.data;
    this.timeoutJiffies = msToJiffies(spec.timeoutMs, hz);
    // nft gives a dynamic set without a size 65535 elements (what `nft list` then shows).
    this.size = spec.size || (spec.flags.has("dynamic") ? 65535 : 0);
    if (this.type === "ipv6_addr") {
      for (const tokens of spec.elements) {
        const text = tokens[0]?.text ?? "";
        if (!isIpv6Value(text)) throw new NftValueError(`${what} ${spec.name}: element "${text}" is not an IPv6 address, prefix or range`);
      }
    }
    for (const tokens of spec.elements) {
      const where = `${what} ${spec.name}: element "${tokens.map((token) => token.text).join(" ")}"`;
      const colon = tokens.findIndex((token) => token.text === ":" && !token.quoted);
      if ((colon >= 0) !== (spec.data !== null)) throw new NftValueError(`${where}: ${spec.data === null ? "a set's element has no data (: DATA belongs in a map)" : "a map's element is KEY : DATA"}`);
      const [key, ...rest] = colon >= 0 ? tokens.slice(0, colon) : tokens;
      if (!key) throw new NftValueError(`${where}: the key is missing`);
      const data = colon >= 0 ? this.dataOf(tokens.slice(colon + 1), chains, where) : null;
      const text = key.text;
      if (rest.length === 0) {
        if (/[/-]/.test(text)) this.intervals.push({ test: compileNumberValue([key], this.type), element: { expires: Infinity, data, limits: [] } });
        else this.elements.set(this.keyOf(text, where), { expires: Infinity, data, limits: [] });
        continue;
      }
      // `ADDRESS [timeout T] [expires LEFT]`: it lasts what it has left, else its whole timeout.
      const words = rest.map((token) => token.text);
      const at = words.includes("expires") ? words.indexOf("expires") : words.indexOf("timeout");
      const lasting = at < 0 ? null : parseNftDuration(words[at + 1] ?? "");
      if (lasting === null) throw new NftValueError(`${where} is not modelled (an element with timeout or expires is)`);
      this.elements.set(this.keyOf(text, where), { expires: startJiffies + msToJiffies(lasting, hz), data, limits: [] });
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
    const found = this.elements.get(value);
    const lasting = timeoutJiffies || this.timeoutJiffies;
    if (found && jiffies < found.expires) {
      if (refresh && found.expires !== Infinity && lasting) found.expires = jiffies + lasting;
      return { element: found, created: false };
    }
    if (found) this.elements.delete(value);
    if (this.size > 0 && this.elements.size >= this.size && this.liveCount(jiffies) >= this.size) return null;
    const element: NftSetElement = { expires: lasting ? jiffies + lasting : Infinity, data: null, limits: [] };
    this.elements.set(value, element);
    return { element, created: true };
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
