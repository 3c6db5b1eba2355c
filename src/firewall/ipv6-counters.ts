import { ipv6MaskPrefix, parseIpv6 } from "../net/ipv6-address.js";

/** An attacker holds a /64 at least: a counter finer than this counts each of its addresses apart. */
const ATTACKER_PREFIX = 64;

/** The prefix a recent --mask stands for; a mask that does not parse is ip6tables' to refuse, not this note's. */
function maskPrefix(mask: string | undefined): number | null {
  if (mask === undefined) return 128;
  try {
    return ipv6MaskPrefix(parseIpv6(mask));
  } catch {
    return null;
  }
}

/**
 * ip6tables rules that count per source finer than a /64: recent without a
 * --mask (per /128) or with a longer one, hashlimit by srcip without
 * --hashlimit-srcmask (128 for IPv6) or with one over 64. An IPv6 attacker holds a /64 at least, 2^64 addresses to
 * rotate through, so such a rule never sees the same source twice; each
 * note names the line in the saved IPv6 rules.
 */
export function perAddressIpv6Counters(ipv6SaveText: string, where: string): string[] {
  const notes: string[] = [];
  ipv6SaveText.split("\n").forEach((line, index) => {
    if (!line.startsWith("-A ")) return;
    const counts = /-m recent\b.*--(set|update|rcheck)\b/.test(line);
    const prefix = maskPrefix(/--mask (\S+)/.exec(line)?.[1]);
    if (counts && prefix !== null && prefix > ATTACKER_PREFIX) {
      notes.push(
        `${where}: line ${index + 1}: -m recent counts ${prefix === 128 ? "each IPv6 address alone (per /128)" : `per /${prefix}`}: an attacker rotating through its /64 is never counted twice; add --mask ffff:ffff:ffff:ffff:: to count per /64`,
      );
    }
    const bySource = /-m hashlimit\b/.test(line) && /--hashlimit-mode (\S*,)?srcip\b/.test(line);
    const srcMask = Number(/--hashlimit-srcmask (\d+)/.exec(line)?.[1] ?? 128);
    if (bySource && srcMask > ATTACKER_PREFIX) {
      notes.push(`${where}: line ${index + 1}: -m hashlimit limits each IPv6 source per /${srcMask}: an attacker rotating through its /64 gets a fresh bucket for every address; add --hashlimit-srcmask 64`);
    }
  });
  return notes;
}
