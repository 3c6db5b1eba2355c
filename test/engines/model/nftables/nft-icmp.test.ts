import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { compileRulesetText } from "../../../../src/engines/model/compile-ruleset.js";
import { ConntrackTable } from "../../../../src/engines/model/conntrack.js";
import { defaultKernelSettings } from "../../../../src/engines/model/kernel-settings.js";
import { firewallState } from "../../../../src/engines/model/netfilter/firewall-state.js";
import { decodeIpv4 } from "../../../../src/net/ipv4.js";
import { ipv4 } from "../../../helpers/capture-files.js";
import { PBX, START } from "../../../helpers/firewall.js";
import { kernelOracleHere, kernelOracleProblem } from "../../../helpers/kernel-oracle.js";

/**
 * The ICMP and ICMPv6 lines of the inet tables distributions ship, counted
 * rule by rule over ICMP messages and a SIP datagram, in the model and in
 * the kernel (`nft -f` in a network namespace, the packets sent to its own
 * address through a raw socket): ICMP matches read the ICMP header, and
 * every IPv6 expression stays false for IPv4 packets.
 */
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
const nftHere = kernelOracleHere && spawnSync("nft", ["--version"]).status === 0;
if (!nftHere && !required) console.log(`skipping the kernel half of the ICMP checks: ${kernelOracleProblem || "it needs root, unshare and nft"}`);

const forms = [
  "icmp type echo-request",
  "icmp type { echo-reply, destination-unreachable }",
  "icmp type != echo-request",
  "icmp code 3",
  "meta l4proto icmp",
  "meta l4proto ipv6-icmp",
  "ip protocol icmp",
  "icmpv6 type echo-request",
  "ip6 nexthdr icmpv6",
  "meta nfproto ipv6",
  "meta nfproto ipv4",
  "ip6 saddr 2001:db8::/32",
];
const ruleset = `table inet t {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n${forms.map((form) => `\t\t${form} counter`).join("\n")}\n\t}\n}\n`;

/** Echo request, echo reply, port unreachable, time exceeded, and a SIP datagram. */
const messages: Array<[type: number, code: number] | null> = [[8, 0], [0, 0], [3, 3], [11, 0], null];

function packet(message: [number, number] | null, index: number): Uint8Array {
  if (!message) {
    const udp = new Uint8Array(8 + 4);
    new DataView(udp.buffer).setUint16(0, 5060);
    new DataView(udp.buffer).setUint16(2, 5060);
    new DataView(udp.buffer).setUint16(4, udp.length);
    return ipv4(17, `198.18.9.${index + 1}`, PBX, udp);
  }
  const icmp = new Uint8Array(8);
  icmp[0] = message[0];
  icmp[1] = message[1];
  new DataView(icmp.buffer).setUint16(4, 0x1234 + index);
  let sum = 0;
  for (let at = 0; at < icmp.length; at += 2) sum += (icmp[at]! << 8) | icmp[at + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  new DataView(icmp.buffer).setUint16(2, ~sum & 0xffff);
  return ipv4(1, `198.18.9.${index + 1}`, PBX, icmp);
}
const packets = messages.map(packet);

function countsInModel(): number[] {
  const firewall = compileRulesetText(ruleset, "icmp.nft", firewallState(defaultKernelSettings, [PBX]));
  const conntrack = new ConntrackTable(defaultKernelSettings);
  const tracker = conntrack.tracker();
  for (const bytes of packets) {
    tracker.at(START);
    if (firewall.judgeRoute("INPUT", decodeIpv4(bytes), { jiffies: START, clockNs: 0, outInterface: "" }, tracker).accepted) conntrack.commit(tracker.last());
  }
  return forms.map((_, index) => firewall.counters().find((counter) => counter.chain === "inet t input" && counter.index === index + 1)!.packets);
}

function countsInKernel(): number[] {
  const hex = packets.map((bytes) => Buffer.from(bytes).toString("hex"));
  const sender = `import socket, sys\nraw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)\nfor h in sys.argv[1:]:\n    raw.sendto(bytes.fromhex(h), ("${PBX}", 0))\n`;
  const script = ["set -e", "ip link set lo up", `ip addr add ${PBX}/32 dev lo`, `nft -f - <<'RULES'\n${ruleset}RULES`, `python3 -c '${sender}' ${hex.join(" ")}`, "sleep 0.2", "nft list ruleset"].join("\n");
  const ran = spawnSync("unshare", ["--net", "bash", "-c", script], { encoding: "utf8", timeout: 60_000 });
  expect(ran.status, ran.stderr).toBe(0);
  return [...ran.stdout.matchAll(/counter packets (\d+) bytes/g)].map((match) => Number(match[1]));
}

describe("nftables ICMP and IPv6 expressions on IPv4 packets", () => {
  // Written down from the kernel's counts; the kernel half rechecks them wherever nft runs.
  const expected = [1, 2, 3, 1, 4, 0, 4, 0, 0, 0, 5, 0];

  it("model: ICMP matches read the ICMP header, IPv6 ones never match", () => {
    expect(countsInModel()).toEqual(expected);
  });

  it.runIf(nftHere || required)("kernel: the same", () => {
    expect(countsInKernel()).toEqual(expected);
  });
});
