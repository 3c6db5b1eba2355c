import { spawnSync } from "node:child_process";
import { expect } from "vitest";
import { parseIpv4 } from "../../src/net/address.js";
import { loadIpsets } from "../../src/engines/model/netfilter/matches/set.js";
import { parseIpsetSave } from "../../src/firewall/ipset.js";
import { firewallOf, HZ, PBX, PBX6, START, udpPacket } from "./firewall.js";
import type { IpFamily } from "../../src/firewall/ruleset.js";

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
  /** The IPv4 TOS byte (DSCP << 2 | ECN); 0 when absent. */
  readonly tos?: number;
  /** The IPv4 flags and fragment offset field (0x4000: don't fragment); 0 when absent. */
  readonly frag?: number;
  /** Seconds after the first packet. */
  readonly at?: number;
}

export interface OracleOutcome {
  /** Per packet: did it reach the socket. */
  readonly delivered: boolean[];
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
  const judged = sends.map(filled).map((send) => firewall.judge(udpPacket(send.src, send.payload, send), Math.floor(send.at * HZ)));
  return {
    delivered: judged.map((judgement) => judgement.accepted),
    counted: firewall
      .counters()
      .filter((counter) => counter.chain === "INPUT" && counter.index > 0)
      .map((counter) => counter.packets),
    comments: judged.map((judgement) => judgement.rule.comment ?? ""),
  };
}

/** Python for the oracles' senders: `datagram(i, send)` is an IPv4/UDP datagram with header checksum, IP ID i. */
export const PYTHON_DATAGRAM = `
def checksum(b):
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16; return (~t) & 0xffff
def datagram(i, send):
    payload = send["payload"].encode("latin-1")
    udp = struct.pack("!HHHH", send["sport"], send["dport"], 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, send.get("tos", 0), 20 + len(udp), i, send.get("frag", 0), send["ttl"], 17, 0, socket.inet_aton(send["src"]), socket.inet_aton(send["dst"]))
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + udp`;

/** `datagram6(i, send)`: an IPv6/UDP datagram with its UDP checksum (mandatory over IPv6), flow label i. */
const PYTHON_DATAGRAM6 = `
def datagram6(i, send):
    payload = send["payload"].encode("latin-1")
    src = socket.inet_pton(socket.AF_INET6, send["src"]); dst = socket.inet_pton(socket.AF_INET6, send["dst"])
    length = 8 + len(payload)
    pseudo = src + dst + struct.pack("!IxxxB", length, 17)
    body = struct.pack("!HHHH", send["sport"], send["dport"], length, 0) + payload
    padded = pseudo + body + (b"\\0" if len(body) % 2 else b"")
    sum_ = checksum(padded) or 0xffff
    udp = body[:6] + struct.pack("!H", sum_) + body[8:]
    return struct.pack("!IHBB", (6 << 28) | (i & 0xfffff), length, 17, send["ttl"]) + src + dst + udp`;

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
  return { delivered: JSON.parse(delivered!) as boolean[], counted: counted.map(Number) };
}
