import { formatCidr, formatIpv4, parseCidr, parseIpv4 } from "../net/address.js";
import { formatIpv6, parseIpv6 } from "../net/ipv6-address.js";
import type { IpFamily } from "./ruleset.js";
import type { Policy } from "./policy.js";

/** Where the generated rules protect the PBX from. */
export interface GenerateTarget {
  /** The PBX address the SIP ports belong to. */
  readonly pbxAddress: string;
  /** Its IPv6 address, when it has one: the nftables rules then count IPv6 sources per /64 too. */
  readonly pbx6Address?: string;
}

/** One rule: its chain and the words after `-A CHAIN`, each already safe (validated numbers, fixed words). */
export interface PlannedRule {
  readonly chain: string;
  readonly words: readonly string[];
  /** Which block of the script it belongs to: trusted sites are loaded from a file there. */
  readonly section: "hook" | "allow" | "check";
}

export interface RulePlan {
  readonly hookChain: "INPUT" | "FORWARD";
  readonly userChains: readonly string[];
  readonly rules: readonly PlannedRule[];
  /** The chain allowSites RETURN rules go into (the script appends file entries there). */
  readonly allowChain: string;
  /** Words of an allowSites rule without the source, for the script's file loop. */
  readonly recentLists: readonly string[];
}

export const CHECK_CHAIN = "SLAM-CHECK";
export const COUNT_CHAIN = "SLAM-COUNT";
export const BLOCK_CHAIN = "SLAM-BLOCK";
export const ESCALATE_CHAIN = "SLAM-ESCALATE";

/** The offset of the UDP payload in a datagram without IP options: 20-byte IP header + 8-byte UDP header (IPv6: its 40-byte header, without extension headers). */
const UDP_PAYLOAD_OFFSET = { 4: 28, 6: 48 } as const;

/** What a source is counted as: an IPv4 address, or an IPv6 /64 (an attacker's prefix, however many of its 2^64 addresses it uses). */
const SOURCE_MASK = { 4: "255.255.255.255", 6: "ffff:ffff:ffff:ffff::" } as const;

const comment = (text: string) => ["-m", "comment", "--comment", text];

function recentOf(family: IpFamily) {
  // iptables-save spells the defaults out; writing them keeps generated and saved text alike.
  return (list: string, ...words: string[]): string[] => ["-m", "recent", ...words, "--name", list, "--mask", SOURCE_MASK[family], "--rsource"];
}

/** Matches on the first bytes of the SIP payload, for one method. */
function methodMatch(policy: Policy, method: string, transport: "udp" | "tcp", family: IpFamily): string[] {
  const text = `${method} `;
  if (transport === "udp" && policy.methodMatch === "string") {
    return ["-m", "string", "--string", text, "--algo", policy.stringAlgo, "--from", String(UDP_PAYLOAD_OFFSET[family]), "--to", String(UDP_PAYLOAD_OFFSET[family] + text.length)];
  }
  // u32 follows the IP header length (and TCP's data offset), so IP options do not shift it. IPv6's header is 40 bytes:
  // its UDP payload at 48, TCP's data offset read at 52 (its header's byte 12) and added to 40.
  const location = (offset: number): string => {
    if (family === 6) return transport === "udp" ? `${48 + offset}` : `52>>26&0x3C@${40 + offset}`;
    return transport === "udp" ? `0>>22&0x3C@${8 + offset}` : `0>>22&0x3C@12>>26&0x3C@${offset}`;
  };
  const bytes = new TextEncoder().encode(text);
  const tests: string[] = [];
  for (let offset = 0; offset < Math.min(bytes.length, 8); offset += 4) {
    const chunk = bytes.subarray(offset, offset + 4);
    let value = 0;
    let mask = 0;
    for (let i = 0; i < 4; i++) {
      value = value * 256 + (chunk[i] ?? 0);
      mask = mask * 256 + (i < chunk.length ? 0xff : 0);
    }
    tests.push(`${location(offset)}${mask === 0xffffffff ? "" : `&0x${mask.toString(16).toUpperCase()}`}=0x${value.toString(16).toUpperCase()}`);
  }
  return ["-m", "u32", "--u32", tests.join("&&")];
}

/** An IAX2 REGREQ: a full frame (F bit, the UDP payload's first bit) of type IAX (6), subclass REGREQ (13), bytes 10 and 11. */
export const IAX2_REGREQ_U32 = "0>>22&0x3C@8>>31=1&&0>>22&0x3C@16&0xFFFF=0x60D";
/** The same over IPv6, whose UDP payload starts at 48. */
const IAX2_REGREQ_U32_IPV6 = "48>>31=1&&56&0xFFFF=0x60D";

/** A log rule placed before a DROP; `condition` restricts it to the packets that DROP will take. */
function logBeforeDrop(policy: Policy, chain: string, what: string, condition: readonly string[] = []): PlannedRule[] {
  if (policy.logging.kind === "log") {
    return [
      {
        chain,
        section: "check",
        words: [...condition, "-m", "limit", "--limit", `${policy.logging.ratePerMinute}/min`, "--limit-burst", "5", ...comment(`log ${what} (rate-limited)`), "-j", "LOG", "--log-prefix", `slamlab ${what}: `],
      },
    ];
  }
  if (policy.logging.kind === "nflog") {
    return [
      {
        chain,
        section: "check",
        words: [...condition, ...comment(`log ${what} to NFLOG ${policy.logging.group}`), "-j", "NFLOG", "--nflog-group", String(policy.logging.group), "--nflog-prefix", `slamlab:${chain}:${what}`.slice(0, 63)],
      },
    ];
  }
  return [];
}

function rateText(rate: number, per: string): string {
  return `${rate}/${per === "minute" ? "min" : per === "second" ? "sec" : per}`;
}

/**
 * The rules a policy stands for, in order, as data both renderers share.
 * Checks and counting come before anything that could accept the packet,
 * so a flow conntrack calls ESTABLISHED (an attacker keeping its source
 * port) is still counted; the generator emits no ESTABLISHED accept at all.
 */
export function planSlammingRules(policy: Policy, target: GenerateTarget, family: IpFamily = 4): RulePlan {
  if (family === 6 && target.pbx6Address === undefined) throw new Error("IPv6 rules need the PBX's IPv6 address (pbx6Address)");
  const pbx = family === 6 ? `${formatIpv6(parseIpv6(target.pbx6Address!))}/128` : `${formatIpv4(parseIpv4(target.pbxAddress))}/32`;
  const recent = recentOf(family);
  const hookChain = policy.placement === "host" ? "INPUT" : "FORWARD";
  const rules: PlannedRule[] = [];
  const ports = policy.sip.ports;
  const portWords = (transport: string) =>
    ports.length === 1 ? ["-p", transport, "-m", transport, "--dport", String(ports[0])] : ["-p", transport, "-m", "multiport", "--dports", ports.join(",")];
  for (const transport of policy.sip.transports) {
    rules.push({
      chain: hookChain,
      section: "hook",
      words: ["-d", pbx, ...portWords(transport), ...comment(`SIP over ${transport.toUpperCase()} to the PBX: slamming checks`), "-j", CHECK_CHAIN],
    });
  }
  if (policy.tls) {
    rules.push({ chain: hookChain, section: "hook", words: ["-d", pbx, ...tlsPortWords(policy.tls.ports), ...comment("SIP over TLS to the PBX: slamming checks"), "-j", CHECK_CHAIN] });
  }
  if (policy.iax2) {
    const iaxPorts = policy.iax2.ports;
    rules.push({
      chain: hookChain,
      section: "hook",
      words: ["-d", pbx, "-p", "udp", ...(iaxPorts.length === 1 ? ["-m", "udp", "--dport", String(iaxPorts[0])] : ["-m", "multiport", "--dports", iaxPorts.join(",")]), ...comment("IAX2 to the PBX: slamming checks"), "-j", CHECK_CHAIN],
    });
  }
  // Trusted sites are IPv4 networks: ip6tables has none of them.
  for (const site of family === 6 ? [] : policy.allowSites) {
    const cidr = formatCidr(parseCidr(site));
    rules.push({ chain: CHECK_CHAIN, section: "allow", words: ["-s", cidr, ...comment(`allowSites: trusted ${cidr} is never counted`), "-j", "RETURN"] });
  }
  // ip6tables' lists are their own: a list both families share keeps the mask of its first rule, and an
  // iptables rule's --mask 255.255.255.255 would count IPv6 sources per /32 (measured on Linux 6.18).
  const list = family === 6 ? `${policy.matcher.name}6` : policy.matcher.name;
  const blockList = `${list}-BLOCK`;
  const longList = `${list}-LONG`;
  const strikesList = `${list}-STRIKES`;
  const escalation = policy.escalation;
  if (escalation.enabled) {
    // --rcheck, not --update: only the DROP rule below refreshes the entry.
    rules.push(...logBeforeDrop(policy, CHECK_CHAIN, "long-blocked", recent(longList, "--rcheck", "--seconds", String(escalation.blockSeconds))));
    rules.push({
      chain: CHECK_CHAIN,
      section: "check",
      words: [...recent(longList, "--update", "--seconds", String(escalation.blockSeconds)), ...comment(`repeat offender: dropped until ${escalation.blockSeconds} s quiet`), "-j", "DROP"],
    });
  }
  rules.push({
    chain: CHECK_CHAIN,
    section: "check",
    words: [...recent(blockList, "--update", "--seconds", String(policy.blockSeconds)), ...comment(`blocked slammer: dropped until ${policy.blockSeconds} s quiet`), "-j", "DROP"],
  });
  for (const transport of policy.sip.transports) {
    if (transport === "tcp" && policy.sip.tcpCount === "writes") {
      // A sender's every write ends in a segment with PSH: counted whatever bytes it carries, so cutting a request does not hide it.
      // On the SIP ports only: the TLS ports' writes are counted by their own rule, once.
      const tcpPorts = ports.length === 1 ? ["-m", "tcp", "--dport", String(ports[0])] : ["-m", "multiport", "--dports", ports.join(","), "-m", "tcp"];
      rules.push({ chain: CHECK_CHAIN, section: "check", words: ["-p", "tcp", ...tcpPorts, "--tcp-flags", "PSH", "PSH", ...comment("count every TCP write (PSH), whatever its bytes"), "-j", COUNT_CHAIN] });
      continue;
    }
    for (const method of policy.methods) {
      rules.push({
        chain: CHECK_CHAIN,
        section: "check",
        words: [
          "-p",
          transport,
          ...methodMatch(policy, method, transport, family),
          ...comment(transport === "udp" && policy.methodMatch === "string" ? `count ${method} (payload at offset ${UDP_PAYLOAD_OFFSET[family]}: no ${family === 6 ? "extension headers" : "IP options"})` : `count ${method} (u32 on the payload)`),
          "-j",
          COUNT_CHAIN,
        ],
      });
    }
  }
  if (policy.tls) {
    // Encrypted: a write's end (PSH) is all there is to count.
    rules.push({ chain: CHECK_CHAIN, section: "check", words: [...tlsPortWords(policy.tls.ports), "--tcp-flags", "PSH", "PSH", ...comment("count every TLS write (PSH): encrypted, no method to match"), "-j", COUNT_CHAIN] });
  }
  if (policy.iax2) {
    const iaxPorts = policy.iax2.ports;
    rules.push({
      chain: CHECK_CHAIN,
      section: "check",
      words: [
        "-p",
        "udp",
        ...(iaxPorts.length === 1 ? ["-m", "udp", "--dport", String(iaxPorts[0])] : ["-m", "multiport", "--dports", iaxPorts.join(",")]),
        "-m",
        "u32",
        "--u32",
        family === 6 ? IAX2_REGREQ_U32_IPV6 : IAX2_REGREQ_U32,
        ...comment("count IAX2 REGREQ (u32: full frame, type IAX, subclass 13)"),
        "-j",
        COUNT_CHAIN,
      ],
    });
  }
  const methodsText = [...policy.methods, ...(policy.tls ? ["TLS write"] : []), ...(policy.iax2 ? ["IAX2 REGREQ"] : [])].join("/");
  if (policy.matcher.kind === "recent") {
    const { hits, seconds } = policy.matcher;
    rules.push({ chain: COUNT_CHAIN, section: "check", words: [...recent(list, "--set"), ...comment(`remember this ${methodsText}`)] });
    rules.push({
      chain: COUNT_CHAIN,
      section: "check",
      words: [...recent(list, "--rcheck", "--seconds", String(seconds), "--hitcount", String(hits)), ...comment(`slamming: ${hits} ${methodsText} within ${seconds} s`), "-j", BLOCK_CHAIN],
    });
  } else {
    const { rate, per, burst, expireSeconds, name } = policy.matcher;
    rules.push({
      chain: COUNT_CHAIN,
      section: "check",
      words: [
        "-m",
        "hashlimit",
        "--hashlimit-above",
        rateText(rate, per),
        "--hashlimit-burst",
        String(burst),
        "--hashlimit-mode",
        "srcip",
        // An IPv6 source counted per /64, as recent's mask does.
        ...(family === 6 ? ["--hashlimit-srcmask", "64"] : []),
        "--hashlimit-name",
        name,
        "--hashlimit-htable-expire",
        String(expireSeconds * 1000),
        ...comment(`slamming: over ${rate} ${methodsText}/${per} (burst ${burst})`),
        "-j",
        BLOCK_CHAIN,
      ],
    });
  }
  if (escalation.enabled) {
    rules.push({ chain: BLOCK_CHAIN, section: "check", words: [...recent(strikesList, "--set"), ...comment("strike: one more block for this source")] });
    rules.push({
      chain: BLOCK_CHAIN,
      section: "check",
      words: [
        ...recent(strikesList, "--rcheck", "--seconds", String(escalation.withinSeconds), "--hitcount", String(escalation.strikes)),
        ...comment(`${escalation.strikes} blocks within ${escalation.withinSeconds} s: long-term block`),
        "-j",
        ESCALATE_CHAIN,
      ],
    });
    rules.push({ chain: ESCALATE_CHAIN, section: "check", words: [...recent(longList, "--set"), ...comment(`start the ${escalation.blockSeconds} s long-term block`)] });
    rules.push(...logBeforeDrop(policy, ESCALATE_CHAIN, "escalated"));
    rules.push({ chain: ESCALATE_CHAIN, section: "check", words: [...comment("drop: repeat offender"), "-j", "DROP"] });
  }
  rules.push({ chain: BLOCK_CHAIN, section: "check", words: [...recent(blockList, "--set"), ...comment(`start blocking for ${policy.blockSeconds} s`)] });
  rules.push(...logBeforeDrop(policy, BLOCK_CHAIN, "blocked"));
  rules.push({ chain: BLOCK_CHAIN, section: "check", words: [...comment("drop: over the slamming limit"), "-j", "DROP"] });
  const userChains = [CHECK_CHAIN, COUNT_CHAIN, BLOCK_CHAIN, ...(escalation.enabled ? [ESCALATE_CHAIN] : [])];
  const recentLists = policy.matcher.kind === "recent" ? [list, blockList] : [blockList];
  if (escalation.enabled) recentLists.push(strikesList, longList);
  return { hookChain, userChains, rules, allowChain: CHECK_CHAIN, recentLists };
}

/** The TLS ports as iptables words: -m tcp for one (its --tcp-flags goes with it), else multiport and -m tcp. */
function tlsPortWords(ports: readonly number[]): string[] {
  return ports.length === 1 ? ["-p", "tcp", "-m", "tcp", "--dport", String(ports[0])] : ["-p", "tcp", "-m", "multiport", "--dports", ports.join(","), "-m", "tcp"];
}
