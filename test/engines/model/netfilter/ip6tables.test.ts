import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { dumpRecentTable } from "../../../../src/engines/model/netfilter/matches/recent.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { contextAt, PBX6, START, udpPacket } from "../../../helpers/firewall.js";
import { decodeIpv6 } from "../../../../src/net/ipv6.js";
import { ipv6BytesOf, parseAddress } from "../../../../src/net/address-number.js";
import type { Packet } from "../../../../src/net/packet.js";
import { compileFirewall } from "../../../../src/engines/model/netfilter/interpreter.js";
import { defaultKernelSettings } from "../../../../src/engines/model/kernel-settings.js";
import { parseRuleset } from "../../../../src/firewall/parse-ruleset.js";
import { RulesetError } from "../../../../src/firewall/ruleset.js";
import { judgeInKernel, judgeInModel, kernelOracleHere, kernelOracleProblem, type OracleOutcome, type OracleSend } from "../../../helpers/kernel-oracle.js";

const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
if (!kernelOracleHere && !required) console.log(`skipping the kernel half of the ip6tables checks: ${kernelOracleProblem || "it needs root, unshare and ip6tables"}`);

const REGISTER = '-A INPUT -p udp --dport 5060 -m string --string "REGISTER" --algo bm';
/** One attacker's /64: a new address per request, as a scanner rotating inside its prefix sends. */
const rotating = (count: number, every = 0.05): OracleSend[] => Array.from({ length: count }, (_, i) => ({ src: `2001:db8:bad:1::${(i + 1).toString(16)}`, at: i * every }));
const oneAddress = (count: number, every = 0.05): OracleSend[] => Array.from({ length: count }, (_, i) => ({ src: "2001:db8:bad:2::7", at: i * every }));

const cases: Array<{ name: string; rules: string; sends: OracleSend[]; kernel: OracleOutcome }> = [
  {
    name: "ecn and dscp read the traffic class; statistic, quota and policy as over IPv4 (quota counts the 40-byte header)",
    rules: [
      "-A INPUT -p udp -m ecn --ecn-ip-ect 2",
      "-A INPUT -p udp -m dscp --dscp-class EF",
      "-A INPUT -p udp -m statistic --mode nth --every 2 --packet 0",
      "-A INPUT -p udp -m policy --dir in --pol ipsec -j DROP",
      "-A INPUT -p udp -m quota --quota 200 -j ACCEPT",
      "-A INPUT -p udp -j DROP",
    ].join("\n"),
    sends: [0xba, 0xb8, 0x02, 0x00].map((tos) => ({ src: "2001:db8:bad:2::7", tos, payload: "x".repeat(52) })),
    kernel: { delivered: [true, true, false, false], counted: [2, 2, 2, 0, 2, 2] },
  },
  {
    name: "recent without --mask counts each /128: a scanner rotating inside its /64 is never blocked, one address is",
    rules: `${REGISTER} -m recent --set --name SIP6\n${REGISTER} -m recent --update --seconds 60 --hitcount 5 --name SIP6 -j DROP`,
    sends: [...rotating(8), ...oneAddress(8).map((send) => ({ ...send, at: 0.5 + send.at! }))],
    kernel: { delivered: [true, true, true, true, true, true, true, true, true, true, true, true, false, false, false, false], counted: [16, 4] },
  },
  {
    name: "recent --mask ffff:ffff:ffff:ffff:: counts the /64: the rotation is blocked at its fifth request",
    rules: `${REGISTER} -m recent --set --name SIP64 --mask ffff:ffff:ffff:ffff::\n${REGISTER} -m recent --update --seconds 60 --hitcount 5 --name SIP64 --mask ffff:ffff:ffff:ffff:: -j DROP`,
    sends: [...rotating(8), { src: "2001:db8:bad:3::1", at: 0.5 }],
    kernel: { delivered: [true, true, true, true, false, false, false, false, true], counted: [9, 4] },
  },
  {
    name: "hashlimit per /128 by default, per /64 with --hashlimit-srcmask 64",
    rules: [
      `${REGISTER} -s 2001:db8:bad:1::/64 -m hashlimit --hashlimit-above 2/min --hashlimit-burst 3 --hashlimit-mode srcip --hashlimit-name per128 -j DROP`,
      `${REGISTER} -s 2001:db8:bad:2::/64 -m hashlimit --hashlimit-above 2/min --hashlimit-burst 3 --hashlimit-mode srcip --hashlimit-srcmask 64 --hashlimit-name per64 -j DROP`,
    ].join("\n"),
    sends: [...rotating(6), ...Array.from({ length: 6 }, (_, i) => ({ src: `2001:db8:bad:2::${i + 1}`, at: 0.4 + i * 0.05 }))],
    kernel: { delivered: [true, true, true, true, true, true, true, true, true, false, false, false], counted: [0, 3] },
  },
  {
    name: "addresses, prefixes, masks and negation; length counts the 40-byte header",
    rules: [
      "-A INPUT -s 2001:db8:bad:1::/ffff:ffff:ffff:ffff:: -j DROP",
      "-A INPUT -p udp ! -d 2001:db8:100::10 -j DROP",
      "-A INPUT -p udp -m length --length 0:100 -j DROP",
      "-A INPUT -s 2001:db8:ca11::1 -p udp -j REJECT --reject-with icmp6-port-unreachable",
    ].join("\n"),
    sends: [
      { src: "2001:db8:bad:1::99" },
      { src: "2001:db8:600d::1" },
      { src: "2001:db8:600d::1", payload: "x".repeat(52) },
      { src: "2001:db8:600d::1", payload: "x".repeat(53) },
      { src: "2001:db8:ca11::1", payload: "x".repeat(60) },
    ],
    kernel: { delivered: [false, false, false, true, false], counted: [1, 0, 2, 1] },
  },
  {
    name: "string --from/--to count from the IPv6 header: the method starts at byte 48",
    rules: [`-A INPUT -p udp -m string --string "REGISTER" --algo bm --from 49 -j DROP`, `-A INPUT -p udp -m string --string "OPTIONS" --algo bm --to 55 -j DROP`].join("\n"),
    sends: [{ src: "2001:db8:600d::1" }, { src: "2001:db8:600d::1", payload: "OPTIONS sip:x SIP/2.0\r\n\r\n" }, { src: "2001:db8:600d::1", payload: "xOPTIONS sip:x SIP/2.0\r\n\r\n" }],
    kernel: { delivered: [true, false, true], counted: [0, 1] },
  },
  {
    name: "icmp6 by name, number and code, and hl: UFW's neighbour discovery only at hop limit 255",
    rules: [
      "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-solicitation -m hl --hl-eq 255 -j ACCEPT",
      "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type address-unreachable",
      "-A INPUT -p ipv6-icmp --icmpv6-type 1/4",
      "-A INPUT -p ipv6-icmp -m icmp6 ! --icmpv6-type echo-request",
      "-A INPUT -m hl --hl-lt 10",
      "-A INPUT -m hl ! --hl-eq 64",
      "-A INPUT -p udp -m hl --hl-gt 100 -j DROP",
    ].join("\n"),
    sends: [
      { src: "2001:db8:600d::1", icmp6: [135, 0], ttl: 255 },
      { src: "2001:db8:600d::1", icmp6: [135, 0] },
      { src: "2001:db8:600d::1", icmp6: [1, 3] },
      { src: "2001:db8:600d::1", icmp6: [1, 4] },
      { src: "2001:db8:600d::1", icmp6: [128, 0], ttl: 5 },
      { src: "2001:db8:600d::1", ttl: 200 },
      { src: "2001:db8:600d::1", ttl: 100 },
    ],
    kernel: { delivered: [null, null, null, null, null, false, true], counted: [1, 1, 1, 3, 1, 3, 1] },
  },
  {
    name: "rt: UFW's --rt-type 0 drops what carries a type-0 routing header and nothing else; segments left and length",
    rules: ["-A INPUT -m rt --rt-segsleft 1:3 -j DROP", "-A INPUT -m rt ! --rt-len 24", "-A INPUT -m rt --rt-type 0 -j DROP", "-A INPUT -m rt ! --rt-type 0"].join("\n"),
    sends: [
      { src: "2001:db8:600d::1" },
      { src: "2001:db8:600d::1", routing: [0, 0, 2] },
      { src: "2001:db8:600d::1", routing: [253, 0, 2] },
      { src: "2001:db8:600d::1", routing: [253, 2, 0] },
      { src: "2001:db8:600d::1", routing: [253, 0, 0] },
    ],
    kernel: { delivered: [true, false, true, false, true], counted: [1, 1, 1, 2] },
  },
];

describe("ip6tables rulesets on IPv6 packets", () => {
  for (const { name, rules, sends, kernel } of cases) {
    it(`model: ${name}`, () => {
      const model = judgeInModel(rules, sends, undefined, 6);
      expect({ delivered: model.delivered, counted: model.counted }).toEqual(kernel);
    });
    it.runIf(kernelOracleHere || required)(`kernel: ${name}`, () => {
      expect(kernelOracleHere, `SLAMLAB_REQUIRE_DOCKER=1 but no ip6tables in a network namespace: ${kernelOracleProblem}`).toBe(true);
      expect(judgeInKernel(rules, sends, undefined, 6)).toEqual(kernel);
    });
  }
});

describe("UFW's IPv6 rules (test/fixtures/ipv6/ufw.v6: its before6.rules and `ufw limit 5060/udp`, as ip6tables-save prints them)", () => {
  const text = readFileSync(join(import.meta.dirname, "../../../fixtures/ipv6/ufw.v6"), "utf8");
  const firewall = compileFirewall(parseRuleset(text, "ufw.v6", undefined, 6), { settings: defaultKernelSettings, tables: new Map() });
  const judged = (packet: Packet, at = 0) => firewall.judge("INPUT", packet, contextAt(START + at, "INPUT", "NEW"));
  const icmp6 = (type: number, hopLimit: number) => decodeIpv6(Uint8Array.from([0x60, 0, 0, 0, 0, 8, 58, hopLimit, ...ipv6BytesOf(parseAddress("fe80::1")), ...ipv6BytesOf(parseAddress(PBX6)), type, 0, 0, 0, 0, 0, 0, 0]));

  it("accepts neighbour discovery at hop limit 255 only, drops a type-0 routing header, and limits SIP to 5 new flows in 30 s per address", () => {
    expect(judged(icmp6(135, 255)).accepted).toBe(true);
    expect(judged(icmp6(135, 64)).accepted).toBe(false);
    const flows = Array.from({ length: 7 }, (_, index) => judged(udpPacket("2001:db8:bad:1::7", undefined, { sport: 40_000 + index }), index * 50));
    expect(flows.map((judgement) => judgement.accepted)).toEqual([true, true, true, true, true, false, false]);
    expect(flows[5]!.rule).toMatchObject({ chain: "ufw6-user-limit", target: "REJECT" });
    const routed = udpPacket("2001:db8:600d::1");
    const withRh0 = new Uint8Array(routed.bytes.length + 24);
    withRh0.set(routed.bytes.subarray(0, 40));
    withRh0.set([17, 2, 0, 0], 40);
    withRh0.set(routed.bytes.subarray(40), 64);
    withRh0[6] = 43;
    withRh0[5] = routed.bytes[5]! + 24;
    expect(judged(decodeIpv6(withRh0))).toMatchObject({ accepted: false, rule: { chain: "ufw6-before-input", target: "DROP" } });
  });
});

describe("reading ip6tables-save output", () => {
  const compile = (text: string) => compileFirewall(parseRuleset(text, "rules.v6", undefined, 6), { settings: defaultKernelSettings, tables: new Map() });
  const refusal = (text: string): RulesetError => {
    try {
      compile(text);
    } catch (error) {
      if (error instanceof RulesetError) return error;
      throw error;
    }
    throw new Error("not refused");
  };
  const saved = (rules: string) => `# Generated by ip6tables-save v1.8.9 (nf_tables) on Sun Dec  6 18:00:00 2026\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${rules}\nCOMMIT\n`;

  it("reads the file as ip6tables-save prints it, REJECT with ICMPv6's types", () => {
    const firewall = compile(saved("-A INPUT -s 2001:db8:bad::/48 -p udp -m udp --dport 5060 -j REJECT --reject-with icmp6-adm-prohibited\n-A INPUT -p ipv6-icmp -j ACCEPT"));
    expect(firewall.counters().map((counter) => `${counter.chain}:${counter.index}`)).toContain("INPUT:2");
  });

  it("refuses an IPv4 address, -f, IPv4's ICMP and reject types, with the line", () => {
    expect(refusal(saved("-A INPUT -s 198.51.100.7 -j DROP")).message).toMatch(/rules\.v6: line 6: -s 198\.51\.100\.7: .*ip6tables rules take IPv6 addresses/);
    expect(refusal(saved("-A INPUT -f -j DROP")).message).toMatch(/line 6: -f: ip6tables has no fragment flag/);
    expect(refusal(saved("-A INPUT -p udp -j REJECT --reject-with icmp-port-unreachable")).message).toMatch(/--reject-with icmp-port-unreachable: unknown reject type; use one of icmp6-no-route.*ip6tables-restore refuses/);
    expect(refusal(saved("-A INPUT -p icmp -m icmp --icmp-type 8 -j DROP")).message).toMatch(/-m icmp is IPv4's/);
  });

  it("says which matches it does not read over IPv6 yet, rather than judging them as IPv4's", () => {
    const error = refusal(saved("-A INPUT -m iprange --src-range 2001:db8::1-2001:db8::9 -j DROP"));
    expect(error.code).toBe("RULESET_UNSUPPORTED");
    expect(error.message).toMatch(/-m iprange in ip6tables: .*--engine docker/);
  });

  it("tells the two families' files apart by their headers", () => {
    expect(() => parseRuleset(saved("-A INPUT -j ACCEPT"), "rules.v6")).toThrow(/ip6tables-save output \(IPv6 rules\) where IPv4 rules go/);
    const ipv4 = saved("-A INPUT -j ACCEPT").replace("ip6tables-save", "iptables-save");
    expect(() => parseRuleset(ipv4, "rules.v4", undefined, 6)).toThrow(/iptables-save output \(IPv4 rules\) where IPv6 rules go/);
  });
});

describe("a recent list that iptables and ip6tables rules share", () => {
  // One list per name for both families; its mask is the first rule's, as a 16-byte address.
  const ipv4Rules = "-A INPUT -p udp --dport 5060 -m recent --set --name X --rsource\n-A INPUT -p udp --dport 5061 -m recent --set --name Y --mask 255.255.0.0 --rsource";
  const ipv6Rules = "-A INPUT -p udp --dport 5060 -m recent --set --name X --rsource\n-A INPUT -p udp --dport 5061 -m recent --set --name Y --mask ffff:ffff:ffff:ffff:: --rsource\n-A INPUT -p udp --dport 5062 -m recent --set --name Z --mask ffff:ff00:: --rsource";
  const laterIpv4Rule = "-A INPUT -p udp --dport 5062 -m recent --set --name Z --rsource";
  const sends = [1, 2].flatMap((i) => [5060, 5061, 5062].flatMap((port) => [{ src: `2001:db8:bad::${i}`, dport: port }, { src: `198.51.${i}.7`, dport: port }]));
  /** What the lists hold, as /proc/net/xt_recent prints their addresses. */
  const expected = {
    // Neither rule gave a mask: all ones, each address alone.
    X: ["198.51.1.7", "198.51.2.7", "2001:0db8:0bad:0000:0000:0000:0000:0001", "2001:0db8:0bad:0000:0000:0000:0000:0002"],
    // iptables' 255.255.0.0 made the list: its IPv6 sources count per /16.
    Y: ["198.51.0.0", "2001:0000:0000:0000:0000:0000:0000:0000"],
    // ip6tables' ffff:ff00:: made the list: IPv4 sources count per /24.
    Z: ["198.51.1.0", "198.51.2.0", "2001:0d00:0000:0000:0000:0000:0000:0000"],
  };

  it("model: the list's mask is its first rule's, for both families' packets", () => {
    const state = { settings: defaultKernelSettings, tables: new Map() };
    const wrap = (rules: string) => `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${rules}\nCOMMIT\n`;
    const first = compileFirewall(parseRuleset(wrap(ipv4Rules), "rules.v4"), state);
    const ipv6 = compileFirewall(parseRuleset(wrap(ipv6Rules), "rules.v6", undefined, 6), state);
    const later = compileFirewall(parseRuleset(wrap(laterIpv4Rule), "later.v4"), state);
    for (const send of sends) {
      const packet = udpPacket(send.src, "x", { dport: send.dport });
      const firewall = packet.family === 6 ? ipv6 : send.dport === 5062 ? later : first;
      firewall.judge("INPUT", packet, contextAt(defaultKernelSettings.startJiffies));
    }
    const listed = (name: string) => dumpRecentTable(state, name).split("\n").map((line) => line.split(" ")[0]!.slice(4)).sort();
    expect({ X: listed("X"), Y: listed("Y"), Z: listed("Z") }).toEqual(expected);
  });

  it.runIf(kernelOracleHere || required)("kernel: the same lists", () => {
    const script = [
      "set -e",
      "ip link set lo up",
      "ip -6 addr add 2001:db8:100::10/128 dev lo nodad",
      "ip addr add 198.51.100.10/32 dev lo",
      `iptables-restore <<'RULES'\n*filter\n:INPUT ACCEPT [0:0]\n${ipv4Rules}\nCOMMIT\nRULES`,
      `ip6tables-restore <<'RULES'\n*filter\n:INPUT ACCEPT [0:0]\n${ipv6Rules}\nCOMMIT\nRULES`,
      `iptables-restore --noflush <<'RULES'\n*filter\n${laterIpv4Rule}\nCOMMIT\nRULES`,
      ...sends.map((send) => {
        const family = send.src.includes(":") ? "AF_INET6" : "AF_INET";
        const pbx = send.src.includes(":") ? "2001:db8:100::10" : "198.51.100.10";
        return `ip addr add ${send.src}/${send.src.includes(":") ? "128 dev lo nodad" : "32 dev lo"} 2>/dev/null || true; python3 -c "import socket; s=socket.socket(socket.${family}, socket.SOCK_DGRAM); s.bind(('${send.src}', 0)); s.sendto(b'x', ('${pbx}', ${send.dport}))"`;
      }),
      'for t in X Y Z; do echo "== $t"; cut -d" " -f1 /proc/net/xt_recent/$t | sed "s/^src=//" | sort; done',
    ].join("\n");
    const ran = spawnSync("unshare", ["--net", "bash", "-c", script], { encoding: "utf8", timeout: 60_000 });
    expect(ran.status, ran.stderr).toBe(0);
    const lists: Record<string, string[]> = {};
    let current = "";
    for (const line of ran.stdout.trim().split("\n")) {
      if (line.startsWith("== ")) lists[(current = line.slice(3))] = [];
      else lists[current]!.push(line);
    }
    expect(lists).toEqual(expected);
  });
});
