import { formatIpv4, parseCidr, prefixMask, type Cidr } from "../net/address.js";
import { restoreWord } from "./generate-ruleset.js";
import { tokenizeRule } from "./tokenize-rule.js";

/**
 * An admin's real addresses moved onto the lab's: his ruleset names his PBX's
 * public address and his offices' networks; the scenario maps each onto a
 * lab network of the same size, and every address in the ruleset and its
 * ipset file is rewritten through the map before either engine runs, so the
 * rules meet the lab's traffic where they would have met his.
 */
export interface AddressMapping {
  readonly real: Cidr;
  readonly lab: Cidr;
}

/** The scenario's `addressMap` (real -> lab) as mappings, most specific first. */
export function addressMappings(map: Readonly<Record<string, string>>): AddressMapping[] {
  return Object.entries(map)
    .map(([real, lab]) => ({ real: parseCidr(real), lab: parseCidr(lab) }))
    .sort((a, b) => b.real.prefixLength - a.real.prefixLength);
}

export interface MappedText {
  readonly text: string;
  /** Addresses the map covers only in part (a rule's /16 around a mapped /24): left as written, named here. */
  readonly notes: string[];
}

const IPV4 = /\b(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(\/(?:\d{1,2}|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}))?\b/g;

/** Options whose argument holds addresses: -s/-d, iprange, NAT targets, conntrack's address options. */
const ADDRESS_OPTIONS = new Set(["-s", "--source", "--src", "-d", "--destination", "--dst", "--src-range", "--dst-range", "--to-destination", "--to-source", "--ctorigsrc", "--ctorigdst", "--ctreplsrc", "--ctrepldst"]);

/** One address or CIDR through the map; null when the map does not cover it, a note when it covers it only in part. */
function mapCidr(text: string, mappings: readonly AddressMapping[]): { text: string } | { note: string } | null {
  let cidr: Cidr;
  try {
    cidr = parseCidr(text);
  } catch {
    return null;
  }
  for (const { real, lab } of mappings) {
    if (real.prefixLength <= cidr.prefixLength && ((cidr.network & real.mask) >>> 0) === real.network) {
      const address = formatIpv4((lab.network + (cidr.network - real.network)) >>> 0);
      return { text: text.includes("/") ? `${address}/${cidr.prefixLength}` : address };
    }
  }
  const wider = prefixMask(cidr.prefixLength);
  const inside = mappings.filter(({ real }) => cidr.prefixLength < real.prefixLength && ((real.network & wider) >>> 0) === cidr.network).map(({ real }) => `${formatIpv4(real.network)}/${real.prefixLength}`);
  if (inside.length) {
    return { note: `${text} contains the mapped ${inside.reverse().join(", ")} but is wider, so it is left as written; map the whole of ${text} or name the mapped networks in the rule` };
  }
  return null;
}

/** Every address inside `word` (an option's argument) through the map. */
function mapWord(word: string, mappings: readonly AddressMapping[], notes: string[], where: string): string {
  return word.replace(IPV4, (match) => {
    const mapped = mapCidr(match, mappings);
    if (!mapped) return match;
    if ("note" in mapped) {
      notes.push(`${where}: ${mapped.note}`);
      return match;
    }
    return mapped.text;
  });
}

/** An iptables-save text with every address the map covers rewritten; line numbers stay as they were. */
export function mapRulesetAddresses(text: string, mappings: readonly AddressMapping[], source: string): MappedText {
  if (mappings.length === 0) return { text, notes: [] };
  const notes: string[] = [];
  const lines = text.split("\n").map((line, index) => {
    const trimmed = line.replace(/^\s*\[\d+:\d+\]\s*/, "").trim();
    if (!/^-[AID] /.test(trimmed)) return line;
    const words = tokenizeRule(trimmed, index + 1);
    let changed = false;
    const mapped = words.map((word, at) => {
      const option = words[at - 1];
      if (option === undefined || !(ADDRESS_OPTIONS.has(option) || option === "--string")) return word;
      const next = mapWord(word, mappings, notes, `${source}: line ${index + 1}`);
      if (next !== word) changed = true;
      return next;
    });
    return changed ? mapped.map(restoreWord).join(" ") : line;
  });
  return { text: lines.join("\n"), notes };
}

/** An `ipset save` text with the addresses of its add lines rewritten. */
export function mapIpsetAddresses(text: string, mappings: readonly AddressMapping[], source: string): MappedText {
  if (mappings.length === 0) return { text, notes: [] };
  const notes: string[] = [];
  const lines = text.split("\n").map((line, index) => {
    const words = line.trim().split(/\s+/);
    if (words[0] !== "add" || words[2] === undefined) return line;
    words[2] = mapWord(words[2], mappings, notes, `${source}: line ${index + 1}`);
    return words.join(" ");
  });
  return { text: lines.join("\n"), notes };
}
