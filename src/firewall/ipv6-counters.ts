/** A full IPv6 mask as ip6tables-save prints it: counting per address. */
const PER_ADDRESS_MASK = /^(ffff:){7}ffff$/i;

/**
 * ip6tables rules that count per source yet per /128: recent without a
 * --mask (or a full one) and hashlimit by srcip without --hashlimit-srcmask
 * (128 for IPv6). An IPv6 attacker holds a /64 at least, 2^64 addresses to
 * rotate through, so such a rule never sees the same source twice; each
 * note names the line in the saved IPv6 rules.
 */
export function perAddressIpv6Counters(ipv6SaveText: string, where: string): string[] {
  const notes: string[] = [];
  ipv6SaveText.split("\n").forEach((line, index) => {
    if (!line.startsWith("-A ")) return;
    const counts = /-m recent\b.*--(set|update|rcheck)\b/.test(line);
    const mask = /--mask (\S+)/.exec(line)?.[1];
    if (counts && (mask === undefined || PER_ADDRESS_MASK.test(mask))) {
      notes.push(`${where}: line ${index + 1}: -m recent counts each IPv6 address alone (per /128): an attacker rotating through its /64 is never counted twice; add --mask ffff:ffff:ffff:ffff:: to count per /64`);
    }
    const bySource = /-m hashlimit\b/.test(line) && /--hashlimit-mode (\S*,)?srcip\b/.test(line);
    const srcMask = Number(/--hashlimit-srcmask (\d+)/.exec(line)?.[1] ?? 128);
    if (bySource && srcMask > 64) {
      notes.push(`${where}: line ${index + 1}: -m hashlimit limits each IPv6 source per /${srcMask}: an attacker rotating through its /64 gets a fresh bucket for every address; add --hashlimit-srcmask 64`);
    }
  });
  return notes;
}
