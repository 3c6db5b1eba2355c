import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { firewallOf, HZ, udpPacket } from "../../../helpers/firewall.js";

/**
 * A hashlimit table holding --hashlimit-htable-max entries has no room for a
 * new source: dsthash_alloc_init fails and hashlimit_mt sets hotdrop, so the
 * kernel drops the packet there, whatever the rule's target, and counts no
 * rule. Each case runs in the model and, where root and unshare allow, in the
 * kernel: a network namespace with the same rules, the same packets sent over
 * its loopback from raw sockets, and its rule counters read back.
 */
const probe = spawnSync("unshare", ["--net", "iptables", "-S"], { encoding: "utf8" });
const kernelHere = probe.status === 0;
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
if (!kernelHere && !required) console.log("skipping the kernel half of the hashlimit full-table checks: it needs root, unshare and iptables");

const LIMITED = "-A INPUT -p udp --dport 5060 -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name sip";
const AFTER = "-A INPUT -p udp --dport 5060 -j ACCEPT";

interface Send {
  readonly src: string;
  /** Seconds after the first packet. */
  readonly at: number;
}

interface Outcome {
  /** Per packet: did it reach the socket (true) or was it dropped. */
  readonly delivered: boolean[];
  /** Packets each rule counted. */
  readonly counted: [number, number];
}

function inModel(options: string, sends: readonly Send[]): Outcome & { comments: string[] } {
  const firewall = firewallOf(`${LIMITED} ${options} -j ACCEPT\n${AFTER}`);
  const judged = sends.map((send) => firewall.judge(udpPacket(send.src, "REGISTER", { dst: "127.0.0.1", sport: 5060 }), Math.floor(send.at * HZ)));
  const counters = firewall.counters().filter((counter) => counter.chain === "INPUT" && counter.index > 0);
  return {
    delivered: judged.map((judgement) => judgement.accepted),
    counted: [counters[0]!.packets, counters[1]!.packets],
    comments: judged.map((judgement) => judgement.rule.comment ?? ""),
  };
}

function inKernel(options: string, sends: readonly Send[]): Outcome {
  const rules = `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${LIMITED} ${options} -j ACCEPT\n${AFTER}\nCOMMIT\n`;
  // Raw sockets: any source address, one datagram each; the UDP socket on 127.0.0.1:5060 says which arrived.
  const sender = `
import json, socket, struct, sys, time
sends = json.loads(sys.argv[1])
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.1", 5060)); r.settimeout(0.2)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
def checksum(b):
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16; return (~t) & 0xffff
start = time.monotonic(); delivered = []
for i, send in enumerate(sends):
    time.sleep(max(0, start + send["at"] - time.monotonic()))
    udp = struct.pack("!HHHH", 5060, 5060, 16, 0) + b"REGISTER"
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0, socket.inet_aton(send["src"]), socket.inet_aton("127.0.0.1"))
    raw.sendto(header[:10] + struct.pack("!H", checksum(header)) + header[12:] + udp, ("127.0.0.1", 0))
    try:
        r.recvfrom(100); delivered.append(True)
    except socket.timeout:
        delivered.append(False)
print(json.dumps(delivered))
`;
  const script = `set -e\nip link set lo up\niptables-restore <<'RULES'\n${rules}RULES\npython3 -c '${sender.replace(/'/g, "'\\''")}' '${JSON.stringify(sends)}'\niptables -L INPUT -v -x -n | awk 'NR>2 {print $1}'\n`;
  const ran = spawnSync("unshare", ["--net", "bash", "-c", script], { encoding: "utf8", timeout: 60_000 });
  expect(ran.status, ran.stderr).toBe(0);
  const [delivered, first, second] = ran.stdout.trim().split("\n");
  return { delivered: JSON.parse(delivered!) as boolean[], counted: [Number(first), Number(second)] };
}

const cases: Array<{ name: string; options: string; sends: Send[]; expected: Outcome }> = [
  {
    name: "a table of 2 entries drops a third source's packet outright: neither rule counts it",
    options: "--hashlimit-htable-size 2 --hashlimit-htable-max 2",
    sends: ["127.0.1.2", "127.0.1.3", "127.0.1.4", "127.0.1.2"].map((src, index) => ({ src, at: index * 0.01 })),
    expected: { delivered: [true, true, false, true], counted: [3, 0] },
  },
  {
    name: "a max below the size is raised to the size (htable_create)",
    options: "--hashlimit-htable-size 3 --hashlimit-htable-max 1",
    sends: ["127.0.1.2", "127.0.1.3", "127.0.1.4", "127.0.1.5"].map((src, index) => ({ src, at: index * 0.01 })),
    expected: { delivered: [true, true, true, false], counted: [3, 0] },
  },
  {
    name: "an entry the garbage collector freed makes room again",
    options: "--hashlimit-htable-size 1 --hashlimit-htable-max 1 --hashlimit-htable-expire 300 --hashlimit-htable-gcinterval 200",
    sends: [
      { src: "127.0.1.2", at: 0 },
      { src: "127.0.1.3", at: 0.05 },
      { src: "127.0.1.3", at: 1.2 },
    ],
    expected: { delivered: [true, false, true], counted: [2, 0] },
  },
];

describe("hashlimit with a full table", () => {
  for (const { name, options, sends, expected } of cases) {
    it(`model: ${name}`, () => {
      const model = inModel(options, sends);
      expect({ delivered: model.delivered, counted: model.counted }).toEqual(expected);
      const dropped = model.delivered.indexOf(false);
      expect(model.comments[dropped]).toMatch(/^hotdrop: hashlimit table sip is full \(--hashlimit-htable-max \d+\)/);
    });
    it.runIf(kernelHere || required)(`kernel: ${name}`, () => {
      expect(kernelHere, `SLAMLAB_REQUIRE_DOCKER=1 but no iptables in a network namespace: ${probe.stderr}`).toBe(true);
      expect(inKernel(options, sends)).toEqual(expected);
    });
  }

  it("model: with no size given, a table takes 65,536 sources, as on any machine with over 1 GiB of RAM", () => {
    const sources = Array.from({ length: 65_537 }, (_, index) => ({ src: `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`, at: 0 }));
    const model = inModel("", sources);
    expect(model.delivered.filter((delivered) => !delivered)).toHaveLength(1);
    expect(model.delivered.at(-1)).toBe(false);
    expect(model.counted).toEqual([65_536, 0]);
  });
});
