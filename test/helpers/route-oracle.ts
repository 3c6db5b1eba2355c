import { spawnSync } from "node:child_process";
import { expect } from "vitest";
import { ConntrackTable } from "../../src/engines/model/conntrack.js";
import { defaultKernelSettings } from "../../src/engines/model/kernel-settings.js";
import { firewallState } from "../../src/engines/model/netfilter/firewall-state.js";
import { looksLikeNft } from "../../src/firewall/nft/parse-nft.js";
import { compileRulesetText } from "../../src/engines/model/compile-ruleset.js";
import { compileFirewall } from "../../src/engines/model/netfilter/interpreter.js";
import { parseRuleset } from "../../src/firewall/parse-ruleset.js";
import { splitQualifiedChain } from "../../src/firewall/ruleset.js";
import { parseIpv4 } from "../../src/net/address.js";
import { HZ, PBX, PBX6, START, udpPacket } from "./firewall.js";
import { kernelOracleHere, kernelOracleProblem, PYTHON_DATAGRAM, PYTHON_DATAGRAM6, type OracleSend } from "./kernel-oracle.js";

export { kernelOracleHere, kernelOracleProblem };

/**
 * The kernel as an oracle for a packet's whole way in: every table at
 * PREROUTING and INPUT, with conntrack. Datagrams are written as Ethernet
 * frames onto one end of a veth pair and arrive on the other ("eth0", the
 * PBX's, as in the lab) as if from the wire, so raw, conntrack, mangle and
 * nat see them fresh (a loopback packet would carry the conntrack entry its
 * sending made). Counters come from `iptables-save -c`, keyed
 * "table:CHAIN:index" (index 0 is the policy).
 */
export interface RouteOutcome {
  readonly delivered: boolean[];
  /** Packets each rule and policy counted, for the keys the expectation names. */
  readonly counted: Record<string, number>;
  /** Each UDP flow's conntrack timeout in seconds by its source address, when asked for (the kernel's /proc/net/nf_conntrack). */
  readonly udpTimeouts?: Record<string, number>;
}

/** The host listens on every port a datagram is sent to, and on `listen`. */
const listeningPorts = (sends: readonly OracleSend[], listen: readonly number[]) => [...new Set([...sends.map((send) => send.dport ?? 5060), ...listen])];

const filled = (send: OracleSend) => ({ dst: send.src.includes(":") ? PBX6 : PBX, sport: 5060, dport: 5060, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\n\r\n", ttl: 64, at: 0, ...send });

/** What the host answers to each datagram it receives when a case asks for replies: a flow becomes ESTABLISHED, then ASSURED after 2 s. */
const REPLY = "SIP/2.0 401 Unauthorized\r\n\r\n";

/** The same ruleset (all its tables) and datagrams in the model, with its conntrack table; `reply`: the host answers what it receives, through OUTPUT. */
export function judgeRouteInModel(rulesetText: string, sends: readonly OracleSend[], listen: readonly number[] = [], ipsetText?: string, reply = false, udpTimeouts = false): RouteOutcome {
  const local = parseIpv4(PBX);
  const ports = listeningPorts(sends, listen);
  const settings = defaultKernelSettings;
  const state = firewallState(settings, [PBX, PBX6], ipsetText === undefined ? undefined : { path: "test.ipset", text: ipsetText });
  const firewall = isIp6tables(rulesetText) ? compileFirewall(parseRuleset(rulesetText, "test.rules", undefined, 6), state) : compileRulesetText(rulesetText, "test.rules", state);
  const conntrack = new ConntrackTable(settings);
  const tracker = conntrack.tracker();
  const delivered = sends.map(filled).map((send) => {
    const jiffies = START + Math.floor(send.at * HZ);
    tracker.at(jiffies);
    const judgement = firewall.judgeRoute("INPUT", udpPacket(send.src, send.payload, send), { jiffies, clockNs: send.at * 1e9, outInterface: "" }, tracker);
    if (judgement.accepted) conntrack.commit(tracker.last());
    // Delivered: accepted, and still for a socket of this host (a DNAT elsewhere forwards it).
    const delivered = judgement.accepted && judgement.route === "INPUT" && (judgement.packet.dst === local || judgement.packet.dst >>> 24 === 127) && ports.includes(judgement.packet.dport);
    if (delivered && reply) {
      tracker.at(jiffies);
      const answer = udpPacket(PBX, REPLY, { dst: send.src, sport: judgement.packet.dport, dport: judgement.packet.sport });
      if (firewall.judgeRoute("OUTPUT", answer, { jiffies, clockNs: send.at * 1e9, outInterface: "eth0" }, tracker).accepted) conntrack.commit(tracker.last());
    }
    return delivered;
  });
  const counted: Record<string, number> = {};
  for (const counter of firewall.counters()) {
    // An nft chain's label ("inet t input") is its key; iptables' reads "filter:INPUT".
    if (looksLikeNft(rulesetText)) {
      counted[`${counter.chain}:${counter.index}`] = counter.packets;
      continue;
    }
    const { table, chain } = splitQualifiedChain(counter.chain);
    counted[`${table}:${chain}:${counter.index}`] = counter.packets;
  }
  if (!udpTimeouts) return { delivered, counted };
  const lastJiffies = START + Math.floor((sends.at(-1)?.at ?? 0) * HZ);
  const timeouts = Object.fromEntries(
    conntrack
      .dump(lastJiffies)
      .filter((line) => line.startsWith("udp"))
      .map((line) => [/src=(\S+)/.exec(line)![1]!, Math.round(Number(line.split(/\s+/)[2]) / 10) * 10]),
  );
  return { delivered, counted, udpTimeouts: timeouts };
}

const SENDER = `
import json, socket, struct, sys, time
import select, threading
sends = json.loads(sys.argv[1])
# Paced: every datagram leaves at its time whatever happened to the one before (rate matches need
# that); a thread collects what arrives, matched back by source address, port and payload.
paced = sys.argv[5] == "paced"
reply = sys.argv[6] == "reply"
receivers = []
six = any(":" in send["src"] for send in sends)
for port in json.loads(sys.argv[4]):
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("0.0.0.0", port)); receivers.append(r)
    if six:
        r6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); r6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); r6.bind(("::", port)); receivers.append(r6)
wire = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); wire.bind(("wire0", 0))
mac = lambda text: bytes.fromhex(text.replace(":", ""))
ethernet = mac(sys.argv[2]) + mac(sys.argv[3]) + b"\\x08\\x00"
ethernet6 = mac(sys.argv[2]) + mac(sys.argv[3]) + b"\\x86\\xdd"
REPLY = json.loads(sys.argv[7]).encode("latin-1")
${PYTHON_DATAGRAM}
${PYTHON_DATAGRAM6}
arrivals = {}; stop = threading.Event()
def read():
    while not stop.is_set():
        ready, _, _ = select.select(receivers, [], [], 0.02)
        for r in ready:
            data, addr = r.recvfrom(70000); key = (addr[0], addr[1], data); arrivals[key] = arrivals.get(key, 0) + 1
            if reply: r.sendto(REPLY, addr)
reader = threading.Thread(target=read)
if paced: reader.start()
start = time.monotonic(); delivered = []
for i, send in enumerate(sends):
    time.sleep(max(0, start + send["at"] - time.monotonic()))
    wire.send(ethernet6 + datagram6(i, send) if ":" in send["src"] else ethernet + datagram(i, send))
    if paced: continue
    ready, _, _ = select.select(receivers, [], [], 0.15)
    for r in ready:
        data, addr = r.recvfrom(70000)
        if reply: r.sendto(REPLY, addr)
    delivered.append(len(ready) > 0)
if paced:
    time.sleep(0.3); stop.set(); reader.join()
    for send in sends:
        key = (send["src"], send["sport"], send["payload"].encode("latin-1"))
        got = arrivals.get(key, 0) > 0
        if got: arrivals[key] -= 1
        delivered.append(got)
print(json.dumps(delivered))
`;

/** The ruleset and datagrams in the kernel, in a throwaway network namespace. */
/**
 * `neighbours`: the senders' addresses get permanent neighbour entries (the
 * wire end's MAC), so the host's answers leave eth0 rather than wait on ARP
 * no one answers (an egress chain sees them only then).
 */
export function judgeRouteInKernel(rulesetText: string, sends: readonly OracleSend[], listen: readonly number[] = [], ipsetText?: string, paced = false, reply = false, udpTimeouts = false, neighbours = false): RouteOutcome {
  expect(kernelOracleHere, `no iptables in a network namespace: ${kernelOracleProblem}`).toBe(true);
  const quote = (text: string) => `'${text.replace(/'/g, "'\\''")}'`;
  const script = [
    "set -e",
    "ip link set lo up",
    "ip link add eth0 type veth peer name wire0",
    "ip link set eth0 up",
    "ip link set wire0 up",
    `ip addr add ${PBX}/32 dev eth0`,
    "ip route add default dev eth0",
    `ip -6 addr add ${PBX6}/128 dev eth0 nodad`,
    "ip -6 route add default dev eth0",
    ...(neighbours ? [...new Set(sends.map((send) => send.src).filter((src) => !src.includes(":")))].map((src) => `ip neigh replace ${src} lladdr "$(cat /sys/class/net/wire0/address 2>/dev/null || ip -br link show wire0 | awk '{print $3}')" dev eth0 nud permanent`) : []),
    "sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.ip_forward=1",
    ...(ipsetText !== undefined ? [`ipset restore <<'SETS'\n${ipsetText.trim()}\nSETS`] : []),
    looksLikeNft(rulesetText) ? `nft -f - <<'RULES'\n${rulesetText.trim()}\nRULES` : `${isIp6tables(rulesetText) ? "ip6tables" : "iptables"}-restore <<'RULES'\n${rulesetText.trim()}\nRULES`,
    // unshare leaves /sys the host's: the MACs come from ip.
    `python3 -c ${quote(SENDER)} ${quote(JSON.stringify(sends.map(filled)))} "$(ip -br link show eth0 | awk '{print $3}')" "$(ip -br link show wire0 | awk '{print $3}')" ${quote(JSON.stringify(listeningPorts(sends, listen)))} ${paced ? "paced" : "waiting"} ${reply ? "reply" : "silent"} ${quote(JSON.stringify(REPLY))}`,
    looksLikeNft(rulesetText) ? "nft list ruleset" : `${isIp6tables(rulesetText) ? "ip6tables" : "iptables"}-save -c`,
    ...(udpTimeouts ? [`echo ${CONNTRACK_MARK}`, "cat /proc/net/nf_conntrack"] : []),
  ].join("\n");
  const ran = spawnSync("unshare", ["--net", "bash", "-c", script], { encoding: "utf8", timeout: 60_000 });
  expect(ran.status, ran.stderr).toBe(0);
  const [printed = "", listing] = ran.stdout.split(`${CONNTRACK_MARK}\n`);
  const [deliveredLine, ...saved] = printed.trim().split("\n");
  const timeouts = listing === undefined ? {} : { udpTimeouts: kernelUdpTimeouts(listing) };
  if (looksLikeNft(rulesetText)) return { delivered: JSON.parse(deliveredLine!) as boolean[], counted: nftRuleCounters(saved), ...timeouts };
  const counted: Record<string, number> = {};
  let table = "";
  const indexOf = new Map<string, number>();
  for (const line of saved) {
    if (line.startsWith("*")) table = line.slice(1);
    const policy = /^:(\S+) (ACCEPT|DROP) \[(\d+):\d+\]/.exec(line);
    if (policy) counted[`${table}:${policy[1]}:0`] = Number(policy[3]);
    const rule = /^\[(\d+):\d+\] -A (\S+)/.exec(line);
    if (rule) {
      const key = `${table}:${rule[2]}`;
      const index = (indexOf.get(key) ?? 0) + 1;
      indexOf.set(key, index);
      counted[`${key}:${index}`] = Number(rule[1]);
    }
  }
  return { delivered: JSON.parse(deliveredLine!) as boolean[], counted };
}

const CONNTRACK_MARK = "--- nf_conntrack ---";

/** An ip6tables ruleset names itself as ip6tables-save does; the oracles load it with ip6tables-restore, the model as family 6. */
function isIp6tables(text: string): boolean {
  return /^# Generated by ip6tables-save\b/m.test(text);
}

/** /proc/net/nf_conntrack's UDP entries: each flow's seconds left by its source, rounded to the nearest ten (the listing runs after the sends). */
function kernelUdpTimeouts(listing: string): Record<string, number> {
  const timeouts: Record<string, number> = {};
  for (const line of listing.split("\n").filter((text) => / udp +17 /.test(text))) {
    timeouts[/src=(\S+)/.exec(line)![1]!] = Math.round(Number(line.trim().split(/\s+/)[4]) / 10) * 10;
  }
  return timeouts;
}

/**
 * What each rule's counter counted in `nft list ruleset`, keyed as the
 * model's counters are ("inet t input:2": the chain's second rule); nft
 * keeps no counter for a policy.
 */
function nftRuleCounters(listing: readonly string[]): Record<string, number> {
  const counted: Record<string, number> = {};
  let table = "";
  let chain: string | null = null;
  let depth = 0;
  let index = 0;
  for (const line of listing) {
    const text = line.trim();
    const opened = /^table (\S+) (\S+) \{$/.exec(text);
    if (opened && depth === 0) table = `${opened[1]} ${opened[2]}`;
    const chained = /^chain (\S+) \{$/.exec(text);
    if (chained && depth === 1) {
      chain = chained[1]!;
      index = 0;
    } else if (chain !== null && depth === 2 && text !== "}" && text !== "" && !text.startsWith("type ") && !text.startsWith("policy ") && !text.startsWith("comment ")) {
      index++;
      const counter = /counter packets (\d+) bytes/.exec(text);
      if (counter) counted[`${table} ${chain}:${index}`] = Number(counter[1]);
    }
    depth += (text.match(/\{/g)?.length ?? 0) - (text.match(/\}/g)?.length ?? 0);
    if (depth < 2) chain = null;
  }
  return counted;
}

/** Only the counters an expectation names, so a case can leave the rest out. */
export function countersNamed(outcome: RouteOutcome, keys: readonly string[]): RouteOutcome {
  return { delivered: outcome.delivered, counted: Object.fromEntries(keys.map((key) => [key, outcome.counted[key] ?? -1])) };
}
