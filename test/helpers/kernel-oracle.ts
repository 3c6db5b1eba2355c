import { spawnSync } from "node:child_process";
import { expect } from "vitest";
import { parseIpv4 } from "../../src/net/address.js";
import { loadIpsets } from "../../src/engines/model/netfilter/matches/set.js";
import { parseIpsetSave } from "../../src/firewall/ipset.js";
import { firewallOf, HZ, PBX, PBX6, START, udpPacket } from "./firewall.js";
import type { IpFamily } from "../../src/firewall/ruleset.js";
import { decodeIpv6, upperLayerChecksum } from "../../src/net/ipv6.js";
import { ipv6BytesOf, parseAddress } from "../../src/net/address-number.js";
import { encodeIpv4Tcp } from "../../src/net/tcp-segment.js";
import { decodeIpv4, internetChecksum } from "../../src/net/ipv4.js";
import type { Packet } from "../../src/net/packet.js";

/**
 * The kernel as an oracle for the filter table, without Docker: a network
 * namespace whose loopback holds the PBX's address, the rules loaded with
 * iptables-restore, datagrams sent from raw sockets with any source address,
 * and for each one whether it reached a socket, then the rules' counters.
 * Needs root and unshare; kernelOracleHere says whether this machine has them.
 */
const probe = spawnSync("unshare", ["--net", "iptables", "-S"], { encoding: "utf8" });
export const kernelOracleHere = probe.status === 0;
export const kernelOracleProblem = (probe.stderr || String(probe.error ?? "")).trim();

export interface OracleSend {
  readonly src: string;
  readonly dst?: string;
  readonly sport?: number;
  readonly dport?: number;
  readonly payload?: string;
  readonly ttl?: number;
  /** The IPv4 TOS byte or IPv6's traffic class (DSCP << 2 | ECN); 0 when absent. */
  readonly tos?: number;
  /** The IPv4 flags and fragment offset field (0x4000: don't fragment); 0 when absent. */
  readonly frag?: number;
  /** Seconds after the first packet. */
  readonly at?: number;
  /** IPv6 only: an ICMPv6 message of this [type, code] (the payload after its 8-byte header) instead of UDP. */
  readonly icmp6?: readonly [number, number];
  /** IPv6 only: a routing header first, [type, segments left, Hdr Ext Len] (its data zeros). */
  readonly routing?: readonly [number, number, number];
  /** IPv4 only: a TCP segment instead of UDP, with these flags and option bytes (padded to 4 with zeros), the payload after them. */
  readonly tcp?: { readonly flags: number; readonly options?: readonly number[] };
}

export interface OracleOutcome {
  /** Per packet: did it reach the socket (null for an ICMPv6 message or a TCP segment, which no socket here reads). */
  readonly delivered: Array<boolean | null>;
  /** Packets each INPUT rule counted, in order. */
  readonly counted: number[];
}

const filterTable = (inputRules: string) => `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${inputRules.trim()}\nCOMMIT\n`;
const filled = (send: OracleSend) => ({ dst: send.src.includes(":") ? PBX6 : PBX, sport: 5060, dport: 5060, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\n\r\n", ttl: 64, at: 0, ...send });

/** The same rules and datagrams in the model: INPUT, the PBX's address local; ip6tables' rules with family 6. */
export function judgeInModel(inputRules: string, sends: readonly OracleSend[], ipset?: string, family: IpFamily = 4): OracleOutcome & { comments: string[] } {
  const firewall = firewallOf(
    inputRules,
    {},
    "",
    [parseIpv4(PBX)],
    (state) => {
      if (ipset !== undefined) loadIpsets(state, parseIpsetSave(ipset, "test.ipset"), START);
    },
    family,
  );
  const judged = sends.map(filled).map((send) => firewall.judge(send.icmp6 || send.routing || (send.tos && send.src.includes(":")) ? decodeIpv6(datagram6(send)) : send.tcp ? tcpPacket(send) : udpPacket(send.src, send.payload, send), Math.floor(send.at * HZ)));
  return {
    delivered: judged.map((judgement, index) => (sends[index]!.icmp6 || sends[index]!.tcp ? null : judgement.accepted)),
    counted: firewall
      .counters()
      .filter((counter) => counter.chain === "INPUT" && counter.index > 0)
      .map((counter) => counter.packets),
    comments: judged.map((judgement) => judgement.rule.comment ?? ""),
  };
}

/**
 * Python for the oracles' senders: `datagram(i, send)` is an IPv4 datagram
 * with header checksum, IP ID i, carrying UDP or (send.tcp) a TCP segment
 * with its checksum.
 */
export const PYTHON_DATAGRAM = `
def checksum(b):
    if len(b) % 2: b += b"\\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16; return (~t) & 0xffff
def datagram(i, send):
    payload = send["payload"].encode("latin-1")
    src, dst = socket.inet_aton(send["src"]), socket.inet_aton(send["dst"])
    if send.get("tcp"):
        options = bytes(send["tcp"].get("options", [])); options += bytes(-len(options) % 4)
        segment = struct.pack("!HHIIBBHHH", send["sport"], send["dport"], 1, 0, (20 + len(options)) // 4 << 4, send["tcp"]["flags"], 64240, 0, 0) + options + payload
        segment = segment[:16] + struct.pack("!H", checksum(src + dst + struct.pack("!xBH", 6, len(segment)) + segment)) + segment[18:]
        protocol, body = 6, segment
    else:
        protocol, body = 17, struct.pack("!HHHH", send["sport"], send["dport"], 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, send.get("tos", 0), 20 + len(body), i, send.get("frag", 0), send["ttl"], protocol, 0, src, dst)
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + body`;

/**
 * `datagram6(i, send)`: an IPv6/UDP datagram with its UDP checksum (mandatory
 * over IPv6), flow label i; or an ICMPv6 message (send.icmp6), after a routing
 * header when send.routing gives one. datagram6 below writes the same bytes
 * for the model.
 */
export const PYTHON_DATAGRAM6 = `
def datagram6(i, send):
    payload = send["payload"].encode("latin-1")
    src = socket.inet_pton(socket.AF_INET6, send["src"]); dst = socket.inet_pton(socket.AF_INET6, send["dst"])
    if send.get("icmp6"):
        upper, body = 58, struct.pack("!BBHI", send["icmp6"][0], send["icmp6"][1], 0, 0) + payload
    else:
        upper, body = 17, struct.pack("!HHHH", send["sport"], send["dport"], 8 + len(payload), 0) + payload
    pseudo = src + dst + struct.pack("!IxxxB", len(body), upper)
    padded = pseudo + body + (b"\\0" if len(body) % 2 else b"")
    sum_ = checksum(padded)
    if upper == 17: sum_ = sum_ or 0xffff
    at = 6 if upper == 17 else 2
    body = body[:at] + struct.pack("!H", sum_) + body[at + 2:]
    first = upper
    if send.get("routing"):
        kind, left, ext = send["routing"]
        body = struct.pack("!BBBB", upper, ext, kind, left) + bytes(4 + 8 * ext) + body
        first = 43
    return struct.pack("!IHBB", (6 << 28) | (send.get("tos", 0) << 20) | (i & 0xfffff), len(body), first, send["ttl"]) + src + dst + body`;

/** The segment PYTHON_DATAGRAM sends for a send with `tcp` (its IP ID 0: the model reads none). */
function tcpPacket(send: ReturnType<typeof filled>): Packet {
  const options = [...(send.tcp!.options ?? [])];
  while (options.length % 4) options.push(0);
  const bytes = encodeIpv4Tcp({
    src: parseIpv4(send.src),
    dst: parseIpv4(send.dst),
    sport: send.sport,
    dport: send.dport,
    seq: 1,
    ack: 0,
    flags: send.tcp!.flags,
    options: Uint8Array.from(options),
    payload: Uint8Array.from(Buffer.from(send.payload, "latin1")),
    ttl: send.ttl,
  });
  // The TOS byte and the flags field as the sender writes them (encodeIpv4Tcp sets DF), the header checksum made again.
  bytes[1] = send.tos ?? 0;
  bytes[6] = (send.frag ?? 0) >> 8;
  bytes[7] = (send.frag ?? 0) & 0xff;
  bytes[10] = 0;
  bytes[11] = 0;
  const sum = internetChecksum(bytes, 0, 20);
  bytes[10] = sum >> 8;
  bytes[11] = sum & 0xff;
  return decodeIpv4(bytes);
}

/** The bytes PYTHON_DATAGRAM6 sends for `send` (its flow label 0: the model reads none). */
function datagram6(send: ReturnType<typeof filled>): Uint8Array {
  const payload = Buffer.from(send.payload, "latin1");
  const upper = send.icmp6 ? 58 : 17;
  const body = Buffer.alloc(8 + payload.length);
  if (send.icmp6) body.set(send.icmp6, 0);
  else body.set([send.sport >> 8, send.sport & 0xff, send.dport >> 8, send.dport & 0xff, body.length >> 8, body.length & 0xff], 0);
  payload.copy(body, 8);
  const routing = send.routing ? Buffer.concat([Buffer.from([upper, send.routing[2], send.routing[0], send.routing[1]]), Buffer.alloc(4 + 8 * send.routing[2])]) : Buffer.alloc(0);
  const header = Buffer.alloc(40);
  header.writeUInt32BE(((6 << 28) | ((send.tos ?? 0) << 20)) >>> 0, 0);
  header.writeUInt16BE(routing.length + body.length, 4);
  header[6] = send.routing ? 43 : upper;
  header[7] = send.ttl;
  Buffer.from(ipv6BytesOf(parseAddress(send.src))).copy(header, 8);
  Buffer.from(ipv6BytesOf(parseAddress(send.dst))).copy(header, 24);
  const bytes = new Uint8Array(Buffer.concat([header, routing, body]));
  const bodyAt = 40 + routing.length;
  // The checksum's pseudo-header takes the addresses from the fixed header: both are there in every case here.
  const sum = upperLayerChecksum(Uint8Array.from([...bytes.subarray(0, 40), ...bytes.subarray(bodyAt)]), 40, body.length, upper);
  new DataView(bytes.buffer).setUint16(bodyAt + (upper === 17 ? 6 : 2), sum);
  return bytes;
}

const SENDER = (family: IpFamily) => `
import json, socket, struct, sys, time
sends = json.loads(sys.argv[1])
family = socket.AF_INET6 if ${family} == 6 else socket.AF_INET
receivers = {}
for port in sorted({send["dport"] for send in sends}):
    r = socket.socket(family, socket.SOCK_DGRAM); r.bind(("::" if ${family} == 6 else "0.0.0.0", port)); r.settimeout(0.15); receivers[port] = r
raw = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW)
${PYTHON_DATAGRAM}
${PYTHON_DATAGRAM6}
start = time.monotonic(); delivered = []
for i, send in enumerate(sends):
    time.sleep(max(0, start + send["at"] - time.monotonic()))
    raw.sendto(datagram6(i, send) if family == socket.AF_INET6 else datagram(i, send), (send["dst"], 0))
    if send.get("icmp6") or send.get("tcp"):
        delivered.append(None); continue
    try:
        receivers[send["dport"]].recvfrom(70000); delivered.append(True)
    except socket.timeout:
        delivered.append(False)
print(json.dumps(delivered))
`;

/** The rules and datagrams in the kernel, in a throwaway network namespace; ip6tables' with family 6. */
export function judgeInKernel(inputRules: string, sends: readonly OracleSend[], ipset?: string, family: IpFamily = 4): OracleOutcome {
  const tool = family === 6 ? "ip6tables" : "iptables";
  const quote = (text: string) => `'${text.replace(/'/g, "'\\''")}'`;
  const script = [
    "set -e",
    "ip link set lo up",
    family === 6 ? `ip -6 addr add ${PBX6}/128 dev lo nodad` : `ip addr add ${PBX}/32 dev lo`,
    ...(ipset !== undefined ? [`ipset restore <<'SETS'\n${ipset.trim()}\nSETS`] : []),
    `${tool}-restore <<'RULES'\n${filterTable(inputRules)}RULES`,
    `python3 -c ${quote(SENDER(family))} ${quote(JSON.stringify(sends.map(filled)))}`,
    `${tool} -L INPUT -v -x -n | awk 'NR>2 {print $1}'`,
  ].join("\n");
  const ran = spawnSync("unshare", ["--net", "bash", "-c", script], { encoding: "utf8", timeout: 60_000 });
  expect(ran.status, ran.stderr).toBe(0);
  const [delivered, ...counted] = ran.stdout.trim().split("\n");
  return { delivered: JSON.parse(delivered!) as Array<boolean | null>, counted: counted.map(Number) };
}
