import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ConntrackTable } from "../../../src/engines/model/conntrack.js";
import { defaultKernelSettings } from "../../../src/engines/model/kernel-settings.js";
import { parseIpv4 } from "../../../src/net/address.js";
import { decodeIpv4 } from "../../../src/net/ipv4.js";
import { encodeIpv4Tcp, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from "../../../src/net/tcp-segment.js";
import { PBX, START } from "../../helpers/firewall.js";
import { kernelOracleHere, kernelOracleProblem } from "../../helpers/kernel-oracle.js";

/**
 * The TCP conntrack model against the kernel's, segment by segment: a
 * throwaway network namespace routes between a phone's and a PBX's
 * namespaces (both drop TCP at INPUT, so their own stacks never answer),
 * each side sends hand-made segments from a raw socket, and after each one
 * the router's FORWARD counters say NEW, ESTABLISHED or INVALID and
 * /proc/net/nf_conntrack gives the entry's TCP state and timeout.
 */
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
const here = kernelOracleHere && spawnSync("nsenter", ["--version"]).status === 0;
if (!here && !required) console.log(`skipping the TCP conntrack kernel check: ${kernelOracleProblem || "it needs root, unshare and nsenter"}`);

const PHONE = "198.18.1.1";

interface Step {
  readonly flags: number;
  readonly fromPbx?: boolean;
  readonly seq?: number;
  readonly ack?: number;
  readonly data?: string;
}

const S = TCP_SYN;
const A = TCP_ACK;
const F = TCP_FIN;
const R = TCP_RST;
const P = TCP_PSH;
const REGISTER = "REGISTER sip:198.51.100.10 SIP/2.0\r\n\r\n";

/** Each sequence on its own phone port: what phones, floods and scanners do to a PBX's TCP port. */
const sequences: Record<string, Step[]> = {
  handshakeThenData: [{ flags: S }, { flags: S | A, fromPbx: true, ack: 1001 }, { flags: A, seq: 1001, ack: 5001 }, { flags: P | A, seq: 1001, ack: 5001, data: REGISTER }],
  dataAcknowledged: [{ flags: S }, { flags: S | A, fromPbx: true, ack: 1001 }, { flags: P | A, seq: 1001, ack: 5001, data: REGISTER }, { flags: A, fromPbx: true, seq: 5001, ack: 1001 + REGISTER.length }],
  pickupUnderWay: [{ flags: P | A, seq: 1001, ack: 5001, data: "x" }, { flags: P | A, fromPbx: true, seq: 5001, ack: 1002, data: "y" }, { flags: A, seq: 1002, ack: 5002 }],
  nothingStartsWithThese: [{ flags: S | A }, { flags: F | A }, { flags: R }, { flags: S | F }, { flags: F }, { flags: 0 }],
  ackBeforeSynAck: [{ flags: S }, { flags: A, seq: 1001, ack: 5001 }],
  synRetransmitted: [{ flags: S }, { flags: S }],
  resetBeforeReply: [{ flags: S }, { flags: R | A, seq: 1001 }, { flags: A, seq: 1001, ack: 5001 }],
  closedThenReopened: [
    { flags: S },
    { flags: S | A, fromPbx: true, ack: 1001 },
    { flags: A, seq: 1001, ack: 5001 },
    { flags: F | A, seq: 1001, ack: 5001 },
    { flags: F | A, fromPbx: true, seq: 5001, ack: 1002 },
    { flags: A, seq: 1002, ack: 5002 },
    { flags: S, seq: 90_000 },
  ],
  synInsideConnection: [{ flags: S }, { flags: S | A, fromPbx: true, ack: 1001 }, { flags: A, seq: 1001, ack: 5001 }, { flags: S, seq: 77 }, { flags: A, seq: 1001, ack: 5001 }],
  refusedByReset: [{ flags: S }, { flags: R | A, fromPbx: true, seq: 0, ack: 1001 }, { flags: S }],
};

function segmentOf(step: Step, phonePort: number): Uint8Array {
  const fromPbx = step.fromPbx ?? false;
  return encodeIpv4Tcp({
    src: parseIpv4(fromPbx ? PBX : PHONE),
    dst: parseIpv4(fromPbx ? PHONE : PBX),
    sport: fromPbx ? 5060 : phonePort,
    dport: fromPbx ? phonePort : 5060,
    seq: step.seq ?? (fromPbx ? 5000 : 1000),
    ack: step.ack ?? 0,
    flags: step.flags,
    payload: new TextEncoder().encode(step.data ?? ""),
  });
}

/** "NEW 120 SYN_SENT": the packet's ctstate, then its entry's timeout (tens of seconds, "5d" for days) and TCP state. */
function describeEntry(ctState: string, line: string | undefined): string {
  const match = line?.match(/tcp\s+6\s+(\d+)\s+([A-Z_0-9]+)/);
  if (!match) return `${ctState} -`;
  const seconds = Number(match[1]);
  return `${ctState} ${seconds > 100_000 ? "5d" : Math.round(seconds / 10) * 10} ${match[2]}`;
}

function modelSteps(): string[] {
  const table = new ConntrackTable(defaultKernelSettings);
  const seen: string[] = [];
  Object.values(sequences).forEach((steps, index) => {
    const phonePort = 40_001 + index;
    for (const step of steps) {
      const classification = table.classify(decodeIpv4(segmentOf(step, phonePort)), START);
      table.commit(classification);
      seen.push(describeEntry(classification.state, table.dump(START).find((line) => line.includes(`sport=${phonePort} `))));
    }
  });
  return seen;
}

const SEND = "import socket,sys\nb=bytes.fromhex(sys.argv[1])\nsocket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_RAW).sendto(b,(socket.inet_ntoa(b[16:20]),0))";

function kernelSteps(): string[] {
  const quote = (text: string) => `'${text.replace(/'/g, "'\\''")}'`;
  const lines = [
    "set -e",
    "unshare --net sleep 120 & PHONE_NS=$!",
    "unshare --net sleep 120 & PBX_NS=$!",
    "sleep 0.3",
    "trap 'kill $PHONE_NS $PBX_NS' EXIT",
    "ip link set lo up",
    "ip link add vphone type veth peer name rphone && ip link set vphone netns $PHONE_NS",
    "ip link add vpbx type veth peer name rpbx && ip link set vpbx netns $PBX_NS",
    "ip addr add 198.18.1.254/24 dev rphone && ip addr add 198.51.100.254/24 dev rpbx && ip link set rphone up && ip link set rpbx up",
    `nsenter -t $PHONE_NS -n sh -c 'ip addr add ${PHONE}/24 dev vphone && ip link set vphone up && ip route add default via 198.18.1.254 && iptables -A INPUT -p tcp -j DROP'`,
    `nsenter -t $PBX_NS -n sh -c 'ip addr add ${PBX}/24 dev vpbx && ip link set vpbx up && ip route add default via 198.51.100.254 && iptables -A INPUT -p tcp -j DROP'`,
    "sysctl -qw net.ipv4.ip_forward=1",
    "for state in NEW ESTABLISHED INVALID; do iptables -A FORWARD -p tcp -m conntrack --ctstate $state; done",
    "sleep 1",
  ];
  Object.values(sequences).forEach((steps, index) => {
    const phonePort = 40_001 + index;
    for (const step of steps) {
      const hex = Buffer.from(segmentOf(step, phonePort)).toString("hex");
      lines.push(
        `nsenter -t ${step.fromPbx ? "$PBX_NS" : "$PHONE_NS"} -n python3 -c ${quote(SEND)} ${hex}`,
        "sleep 0.05",
        `echo "STEP $(iptables -L FORWARD -v -x -n | awk 'NR>2 {print $1}' | tr '\\n' ' ')|$(grep 'sport=${phonePort} ' /proc/net/nf_conntrack || true)"`,
      );
    }
  });
  const ran = spawnSync("unshare", ["--net", "bash", "-c", lines.join("\n")], { encoding: "utf8", timeout: 60_000 });
  expect(ran.status, ran.stderr).toBe(0);
  const seen: string[] = [];
  let before = [0, 0, 0];
  for (const line of ran.stdout.split("\n").filter((text) => text.startsWith("STEP "))) {
    const [countsText, entry] = line.slice(5).split("|") as [string, string];
    const counts = countsText.trim().split(/\s+/).map(Number);
    const state = ["NEW", "ESTABLISHED", "INVALID"].find((_, i) => counts[i]! > before[i]!) ?? "none";
    before = counts;
    seen.push(describeEntry(state, entry || undefined));
  }
  return seen;
}

describe.runIf(here || required)("TCP conntrack: the model against the kernel", () => {
  it("classifies every segment and keeps every entry's TCP state and timeout as Linux does", () => {
    expect(here, kernelOracleProblem).toBe(true);
    const model = modelSteps();
    expect(model).toContain("ESTABLISHED 300 ESTABLISHED");
    expect(kernelSteps()).toEqual(model);
  }, 90_000);
});
