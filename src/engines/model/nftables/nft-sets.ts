import type { NftSet } from "../../../firewall/nft/nft-ruleset.js";
import { parseNftDuration } from "../../../firewall/nft/parse-nft.js";
import { compileNumberValue, NftValueError, type FieldType } from "./nft-values.js";

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
  /** The state of the expressions a set statement attached (`update @s { ip saddr limit rate ... }`), one per expression. */
  readonly expressions: unknown[];
}

export class RuntimeNftSet {
  readonly name: string;
  readonly type: FieldType;
  /** Timeout in jiffies elements get when a statement gives none; 0 for none. */
  readonly timeoutJiffies: number;
  /** Elements the set can hold; 0 for no limit. */
  readonly size: number;
  readonly dynamic: boolean;
  private readonly elements = new Map<number, NftSetElement>();
  private readonly intervals: Array<(value: number) => boolean> = [];

  constructor(spec: NftSet, hz: number, startJiffies: number) {
    if (spec.type.length !== 1 || (spec.type[0] !== "ipv4_addr" && spec.type[0] !== "inet_service" && spec.type[0] !== "mark")) {
      throw new NftValueError(`set ${spec.name}: type ${spec.type.join(" . ")} is not modelled (ipv4_addr, inet_service and mark are)`);
    }
    this.name = spec.name;
    this.type = spec.type[0] === "mark" ? "mark" : (spec.type[0] as FieldType);
    this.timeoutJiffies = msToJiffies(spec.timeoutMs, hz);
    this.dynamic = spec.flags.has("dynamic") || spec.flags.has("timeout");
    // nft gives a dynamic set without a size 65535 elements (what `nft list` then shows).
    this.size = spec.size || (spec.flags.has("dynamic") ? 65535 : 0);
    for (const element of spec.elements) {
      const key = element[0]!;
      const timeoutAt = element.findIndex((token) => token.text === "timeout" || token.text === "expires");
      if (timeoutAt >= 0 || element.length > 1) {
        const expiresAt = element.findIndex((token) => token.text === "expires");
        const timeoutAtWord = element.findIndex((token) => token.text === "timeout");
        const lasting = parseNftDuration(element[(expiresAt >= 0 ? expiresAt : timeoutAtWord) + 1]?.text ?? "");
        if (lasting === null || (expiresAt < 0 && timeoutAtWord < 0)) throw new NftValueError(`set ${spec.name}: element "${element.map((token) => token.text).join(" ")}" is not modelled`);
        this.elements.set(this.keyOf(key.text), { expires: startJiffies + msToJiffies(lasting, hz), expressions: [] });
        continue;
      }
      if (/[/-]/.test(key.text)) this.intervals.push(compileNumberValue([key], this.type));
      else this.elements.set(this.keyOf(key.text), { expires: Infinity, expressions: [] });
    }
  }

  private keyOf(text: string): number {
    let found = -1;
    const test = compileNumberValue([{ text, quoted: false, line: 0 }], this.type);
    // A single value: find the number it stands for by parsing it as the value parser does.
    if (this.type === "ipv4_addr") found = text.split(".").reduce((sum, part) => sum * 256 + Number(part), 0);
    else found = Number(/^\d+$/.test(text) || /^0x/i.test(text) ? text : Number.NaN);
    if (!Number.isFinite(found) || !test(found)) throw new NftValueError(`set ${this.name}: element ${text} is not modelled`);
    return found;
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
    const element: NftSetElement = { expires: lasting ? jiffies + lasting : Infinity, expressions: [] };
    this.elements.set(value, element);
    return { element, created: true };
  }

  /** Elements not yet lapsed; lapsed ones are dropped on the way, as the set's gc would. */
  private liveCount(jiffies: number): number {
    for (const [key, element] of this.elements) if (jiffies >= element.expires) this.elements.delete(key);
    return this.elements.size;
  }

  describe(jiffies: number): string {
    return `set ${this.name}: ${this.liveCount(jiffies)} elements`;
  }
}

/** nf_msecs_to_jiffies64: nanoseconds to jiffies, rounded down. */
export function msToJiffies(ms: number, hz: number): number {
  return Math.floor((ms * hz) / 1000);
}
