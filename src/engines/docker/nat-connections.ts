/** What a NAT router's conntrack table holds for each TCP connection through it: the public end and the LAN socket behind it. */
export const LIST_NAT_CONNECTIONS = "cat /proc/net/nf_conntrack 2>/dev/null; true";

/**
 * Public address:port and the PBX's port to the LAN address:port it stands for, for the TCP
 * connections in /proc/net/nf_conntrack listings: the original direction's
 * source is the LAN socket, the reply direction's destination the public
 * end MASQUERADE gave it (the LAN port when free, another when two phones
 * behind one address use the same port). One public port can carry two
 * connections to different PBX ports (SIP over TCP and over TLS), hence the
 * PBX's port in the key.
 */
export function natConnections(listings: readonly string[]): Map<string, string> {
  const lanByPublic = new Map<string, string>();
  for (const line of listings.flatMap((listing) => listing.split("\n"))) {
    if (!/^ipv4\s+2\s+tcp\s/.test(line)) continue;
    const src = [...line.matchAll(/\bsrc=(\S+)/g)].map((match) => match[1]);
    const dst = [...line.matchAll(/\bdst=(\S+)/g)].map((match) => match[1]);
    const sport = [...line.matchAll(/\bsport=(\d+)/g)].map((match) => match[1]);
    const dport = [...line.matchAll(/\bdport=(\d+)/g)].map((match) => match[1]);
    if (src.length < 2 || dst.length < 2 || sport.length < 2 || dport.length < 2) continue;
    lanByPublic.set(natKey(dst[1]!, Number(dport[1]), Number(sport[1])), `${src[0]}:${sport[0]}`);
  }
  return lanByPublic;
}

/** The key natConnections files a connection under: its public end and the PBX's port. */
export function natKey(publicAddress: string, publicPort: number, pbxPort: number): string {
  return `${publicAddress}:${publicPort}>${pbxPort}`;
}
