import type { NftSet } from "../../../firewall/nft/nft-ruleset.js";
import { parseNftDuration } from "../../../firewall/nft/parse-nft.js";
import type { NftLimitBucket } from "./nft-limit.js";
import { compileNumberValue, NftValueError, parseSingleValue, type FieldType } from "./nft-values.js";

/**
 * A named set at run time, as nf_tables keeps one (nft_set_hash for
 * dynamic sets, nft_set_rbtree for intervals): elements keyed by the
 * number they hold, each with its expiry in jiffies (nft_set_elem_expired:
 * gone once jiffies reach it) and the per-element state a set statement
 * gave it (its limit). Interval elements (prefixes, ranges) are static.
 */
export interface NftSetElement {
  /** jiffies at which the element lapses; Infinity for none. */
  expires: number;
  /** The buckets of the limits a set statement attached (`update @s { ip saddr limit rate ... }`), one per limit. */
  readonly limits: NftLimitBucket[];
}

export class RuntimeNftSet {
  readonly name: string;
  readonly type: FieldType;
  /** Timeout in jiffies elements get when a statement gives none; 0 for none. */
  readonly timeoutJiffies: number;
  /** Elements the set can hold; 0 for no limit. */
  readonly size: number;
  private readonly elements = new Map<number, NftSetElement>();
  private readonly intervals: Array<(value: number) => boolean> = [];

  constructor(spec: NftSet, hz: number, startJiffies: number) {
    if (spec.type.length !== 1 || (spec.type[0] !== "ipv4_addr" && spec.type[0] !== "inet_service" && spec.type[0] !== "mark")) {
      throw new NftValueError(`set ${spec.name}: type ${spec.type.join(" . ")} is not modelled (ipv4_addr, inet_service and mark are)`);
    }
    this.name = spec.name;
    this.type = spec.type[0];
    this.timeoutJiffies = msToJiffies(spec.timeoutMs, hz);
    // nft gives a dynamic set without a size 65535 elements (what `nft list` then shows).
    this.size = spec.size || (spec.flags.has("dynamic") ? 65535 : 0);
    for (const [key, ...rest] of spec.elements) {
      const text = key!.text;
      const where = `set ${spec.name}: element "${[key!, ...rest].map((token) => token.text).join(" ")}"`;
      if (rest.length === 0) {
        if (/[/-]/.test(text)) this.intervals.push(compileNumberValue([key!], this.type));
        else this.elements.set(this.keyOf(text, where), { expires: Infinity, limits: [] });
        continue;
      }
      // `ADDRESS [timeout T] [expires LEFT]`: it lasts what it has left, else its whole timeout.
      const words = rest.map((token) => token.text);
      const at = words.includes("expires") ? words.indexOf("expires") : words.indexOf("timeout");
      const lasting = at < 0 ? null : parseNftDuration(words[at + 1] ?? "");
      if (lasting === null) throw new NftValueError(`${where} is not modelled (an element with timeout or expires is)`);
      this.elements.set(this.keyOf(text, where), { expires: startJiffies + msToJiffies(lasting, hz), limits: [] });
    }
  }

  private keyOf(text: string, where: string): number {
    try {
      return parseSingleValue(text, this.type);
    } catch (error) {
      throw new NftValueError(`${where}: ${(error as Error).message}`);
    }
  }

  /** nft_lookup: the live element holding the value. */
  has(value: number, jiffies: number): boolean {
    const element = this.elements.get(value);
    if (element && jiffies < element.expires) return true;
    return this.intervals.some((test) => test(value));
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
    const element: NftSetElement = { expires: lasting ? jiffies + lasting : Infinity, limits: [] };
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
