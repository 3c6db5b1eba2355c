import { formatCidr, formatIpv4, parseCidr, parseIpv4 } from "../net/address.js";
import { formatIpv6, parseIpv6 } from "../net/ipv6-address.js";
import type { Policy } from "./policy.js";
import type { GenerateTarget } from "./slamming-rules.js";

/**
 * A policy as an nftables ruleset in a table of its own (`inet slamlab`),
 * written exactly as `nft list ruleset` prints it back, so what is loaded and
 * what is read back are the same text. The shape is the iptables one's:
 * allowed sites return first, a blocked source is dropped and its block
 * restarted by every packet it sends (held until quiet), counted methods go
 * through a per-source limit kept in a dynamic set, and a source over it is
 * blocked. nft has no sliding-window hit count (xt_recent's --hitcount N
 * --seconds S): a recent matcher becomes a token bucket of the same average
 * rate (N per S seconds) whose burst lets N-1 through, so the Nth packet in
 * a burst is over; hashlimit's --hashlimit-above R --hashlimit-burst B is
 * nft's limit rate over R burst B as it stands.
 */

export const NFT_TABLE = "slamlab";

/** nft's duration as it prints one: 1d2h3m4s. */
export function nftDuration(seconds: number): string {
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of [["d", 86_400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
  }
  return parts.length ? parts.join("") : "0s";
}

/** `count` packets per `seconds` as an nft rate: the smallest unit that keeps it whole, else per day rounded. */
export function nftRate(count: number, seconds: number): string {
  for (const [unit, size] of [["second", 1], ["minute", 60], ["hour", 3600], ["day", 86_400]] as const) {
    const perUnit = (count * size) / seconds;
    if (Number.isInteger(perUnit) && perUnit >= 1) return `${perUnit}/${unit}`;
  }
  return `${Math.max(1, Math.round((count * 86_400) / seconds))}/day`;
}

/** `limit rate over R burst B packets`, as nft prints it (a burst of 5 is its default and not printed). */
function limitOver(rate: string, burst: number): string {
  return `limit rate over ${rate}${burst === 5 ? "" : ` burst ${burst} packets`}`;
}

/** A method's first bytes as a raw payload match: after the UDP header, or at the start of TCP's payload. */
function methodPayload(method: string, transport: "udp" | "tcp"): string {
  const text = Buffer.from(`${method} `).subarray(0, 16);
  const hex = `0x${text.toString("hex")}`;
  return transport === "udp" ? `meta l4proto udp @th,64,${text.length * 8} ${hex}` : `meta l4proto tcp @ih,0,${text.length * 8} ${hex}`;
}

function dynamicSet(name: string, timeoutSeconds: number, type: string): string[] {
  return [`\tset ${name} {`, `\t\ttype ${type}`, "\t\tsize 65535", "\t\tflags dynamic,timeout", `\t\ttimeout ${nftDuration(timeoutSeconds)}`, "\t}"];
}

/** A set lookup as nft prints it: a masked key takes "==" before the set. */
function lookup(key: string, set: string): string {
  return key.includes(" & ") ? `${key} == @${set}` : `${key} @${set}`;
}

/** An IPv6 attacker holds a /64 at least: its sources are counted per /64, never per address. */
const PER_SITE_MASK = "ffff:ffff:ffff:ffff::";

/** What the rules of one address family differ in: names, the header field, the counted key, the set type. */
interface AddressFamily {
  readonly suffix: string;
  readonly daddr: string;
  readonly key: string;
  readonly setType: string;
  readonly pbx: string;
  readonly what: string;
}

/** `allowSet`: the allowed_sites set and its rule even without sites in the policy (the script adds a file's). */
export function generateNftRuleset(policy: Policy, target: GenerateTarget, options: { allowSet?: boolean } = {}): string {
  const pbx = formatIpv4(parseIpv4(target.pbxAddress));
  const hook = policy.placement === "host" ? "input" : "forward";
  const sets: string[][] = [];
  const allowSet = policy.allowSites.length > 0 || options.allowSet === true;
  if (allowSet) {
    const sites = policy.allowSites.map((site) => {
      const cidr = parseCidr(site);
      return cidr.prefixLength === 32 ? formatIpv4(cidr.network) : formatCidr(cidr);
    });
    sets.push(["\tset allowed_sites {", "\t\ttype ipv4_addr", "\t\tflags interval", ...(sites.length ? [`\t\telements = { ${sites.join(", ")} }`] : []), "\t}"]);
  }
  const matcher = policy.matcher;
  const [rate, burst, window] =
    matcher.kind === "recent"
      ? [nftRate(matcher.hits, matcher.seconds), Math.max(1, matcher.hits - 1), matcher.seconds]
      : [`${matcher.rate}/${matcher.per}`, matcher.burst, matcher.expireSeconds];
  const escalation = policy.escalation;
  const ports = (transport: string) => (policy.sip.ports.length === 1 ? `${transport} dport ${policy.sip.ports[0]}` : `${transport} dport { ${policy.sip.ports.join(", ")} }`);
  const logged = (what: string): string[] => {
    if (policy.logging.kind === "log") return [`limit rate ${policy.logging.ratePerMinute}/minute log prefix "slamlab ${what}: "`];
    if (policy.logging.kind === "nflog") return [`log prefix "slamlab:${what}" group ${policy.logging.group}`];
    return [];
  };
  const tlsPorts = policy.tls ? (policy.tls.ports.length === 1 ? `tcp dport ${policy.tls.ports[0]}` : `tcp dport { ${policy.tls.ports.join(", ")} }`) : null;
  const iaxPorts = policy.iax2 ? (policy.iax2.ports.length === 1 ? `udp dport ${policy.iax2.ports[0]}` : `udp dport { ${policy.iax2.ports.join(", ")} }`) : null;
  const families: AddressFamily[] = [
    { suffix: "", daddr: "ip daddr", key: "ip saddr", setType: "ipv4_addr", pbx, what: "" },
    ...(target.pbx6Address ? [{ suffix: "6", daddr: "ip6 daddr", key: `ip6 saddr & ${PER_SITE_MASK}`, setType: "ipv6_addr", pbx: formatIpv6(parseIpv6(target.pbx6Address)), what: " over IPv6" }] : []),
  ];
  const chains: Array<[string, string | null, string[]]> = [
    [
      hook,
      `type filter hook ${hook} priority filter; policy accept;`,
      families.flatMap(({ suffix, daddr, pbx: address, what }) => [
        ...policy.sip.transports.map((transport) => `${daddr} ${address} ${ports(transport)} jump slam_check${suffix} comment "SIP over ${transport.toUpperCase()} to the PBX${what}"`),
        ...(tlsPorts ? [`${daddr} ${address} ${tlsPorts} jump slam_check${suffix} comment "SIP over TLS to the PBX${what}"`] : []),
        ...(iaxPorts ? [`${daddr} ${address} ${iaxPorts} jump slam_check${suffix} comment "IAX2 to the PBX${what}"`] : []),
      ]),
    ],
  ];
  for (const { suffix, key, setType } of families) {
    sets.push(dynamicSet(`counted${suffix}`, window, setType));
    sets.push(dynamicSet(`blocked${suffix}`, policy.blockSeconds, setType));
    if (escalation.enabled) {
      sets.push(dynamicSet(`strikes${suffix}`, escalation.withinSeconds, setType));
      sets.push(dynamicSet(`long_blocked${suffix}`, escalation.blockSeconds, setType));
    }
    chains.push(
      [
        `slam_check${suffix}`,
        null,
        [
          // allowSites are IPv4 networks: IPv6 sources have none.
          ...(allowSet && suffix === "" ? ['ip saddr @allowed_sites return comment "allowed sites are never counted"'] : []),
          ...(escalation.enabled ? [`${lookup(key, `long_blocked${suffix}`)} update @long_blocked${suffix} { ${key} } drop comment "repeat offender"`] : []),
          `${lookup(key, `blocked${suffix}`)} update @blocked${suffix} { ${key} } drop comment "blocked until ${policy.blockSeconds} s quiet"`,
          ...policy.sip.transports.flatMap((transport) =>
            transport === "tcp" && policy.sip.tcpCount === "writes"
              ? [`${ports("tcp")} tcp flags & psh == psh jump slam_count${suffix} comment "count every TCP write (PSH), whatever its bytes"`]
              : policy.methods.map((method) => `${methodPayload(method, transport)} jump slam_count${suffix} comment "count ${method}"`),
          ),
          ...(tlsPorts ? [`${tlsPorts} tcp flags & psh == psh jump slam_count${suffix} comment "count every TLS write (PSH): encrypted, no method to match"`] : []),
          // An IAX2 REGREQ: the full frame's F bit, then type IAX (6) and subclass REGREQ (13) in bytes 10 and 11 of the UDP payload.
          ...(iaxPorts ? [`${iaxPorts} @th,64,8 & 0x80 == 0x80 @th,144,16 0x60d jump slam_count${suffix} comment "count IAX2 REGREQ"`] : []),
        ],
      ],
      [`slam_count${suffix}`, null, [`update @counted${suffix} { ${key} ${limitOver(rate, burst)} } jump slam_block${suffix}`]],
      [
        `slam_block${suffix}`,
        null,
        [
          `add @blocked${suffix} { ${key} }`,
          ...(escalation.enabled ? [`update @strikes${suffix} { ${key} ${limitOver(nftRate(escalation.strikes, escalation.withinSeconds), Math.max(1, escalation.strikes - 1))} } jump slam_escalate${suffix}`] : []),
          ...logged("blocked"),
          'drop comment "over the slamming limit"',
        ],
      ],
      ...(escalation.enabled ? [[`slam_escalate${suffix}`, null, [`add @long_blocked${suffix} { ${key} }`, ...logged("escalated"), 'drop comment "repeat offender"']] as [string, null, string[]]] : []),
    );
  }
  const blocks = [
    ...sets.map((set) => set.join("\n")),
    ...chains.map(([name, base, rules]) => [`\tchain ${name} {`, ...(base ? [`\t\t${base}`] : []), ...rules.map((rule) => `\t\t${rule}`), "\t}"].join("\n")),
  ];
  return `table inet ${NFT_TABLE} {\n${blocks.join("\n\n")}\n}\n`;
}
