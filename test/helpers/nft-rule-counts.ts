import { spawnSync } from "node:child_process";
import { expect } from "vitest";
import { compileRulesetText } from "../../src/engines/model/compile-ruleset.js";
import { ConntrackTable } from "../../src/engines/model/conntrack.js";
import { defaultKernelSettings } from "../../src/engines/model/kernel-settings.js";
import { firewallState } from "../../src/engines/model/netfilter/firewall-state.js";
import { decodeIp } from "../../src/net/ipv6.js";
import { PBX, PBX6, START } from "./firewall.js";
import { ipv4 } from "./capture-files.js";
import { kernelOracleHere, kernelOracleProblem } from "./kernel-oracle.js";

/** Whether nft can load rulesets in a network namespace here; SLAMLAB_REQUIRE_DOCKER=1 makes its absence a failure. */
export const nftKernelRequired = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
export const nftKernelHere = kernelOracleHere && spawnSync("nft", ["--version"]).status === 0;

/** Says once why a file's kernel half is skipped, unless it is required. */
export function noteNftKernelSkip(what: string): void {
  if (!nftKernelHere && !nftKernelRequired) console.log(`skipping the kernel half of the ${what} checks: ${kernelOracleProblem || "it needs root, unshare and nft"}`);
}

/**
 * A TCP segment from 198.18.SUBNET.(index + 1) to the PBX's port 22, with
 * these flags and options (padded with EOL to a whole header word); with
 * flags null, a UDP datagram there instead (no TCP header at all).
 */
export function probeSegment(subnet: number, index: number, flags: number | null, options: readonly number[] = []): Uint8Array {
  const source = `198.18.${subnet}.${index + 1}`;
  if (flags === null) {
    const udp = new Uint8Array(12);
    new DataView(udp.buffer).setUint16(0, 5060);
    new DataView(udp.buffer).setUint16(2, 22);
    new DataView(udp.buffer).setUint16(4, udp.length);
    return ipv4(17, source, PBX, udp);
  }
  const padded = [...options];
  while (padded.length % 4 !== 0) padded.push(0);
  const tcp = new Uint8Array(20 + padded.length);
  const view = new DataView(tcp.buffer);
  view.setUint16(0, 40000 + index);
  view.setUint16(2, 22);
  view.setUint32(4, 1000 + index);
  tcp[12] = (tcp.length / 4) << 4;
  tcp[13] = flags;
  view.setUint16(14, 65535);
  tcp.set(padded, 20);
  return ipv4(6, source, PBX, tcp);
}

/**
 * One counter per form in an inet table's input chain, and what each counted
 * of the same packets, in the model and in the kernel (`nft -f` in a network
 * namespace, the packets sent to its own address through a raw socket).
 */
export function rulesetCountingEach(forms: readonly string[], table = "t"): string {
  return `table inet ${table} {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n${forms.map((form) => `\t\t${form} counter`).join("\n")}\n\t}\n}\n`;
}

/** `inInterface`: the device the packets come in on (the kernel half sends them on lo). */
export function countsInModel(ruleset: string, forms: readonly string[], packets: readonly Uint8Array[], table = "t", inInterface = "eth0"): number[] {
  const firewall = compileRulesetText(ruleset, "counts.nft", firewallState(defaultKernelSettings, [PBX]));
  const conntrack = new ConntrackTable(defaultKernelSettings);
  const tracker = conntrack.tracker();
  for (const bytes of packets) {
    tracker.at(START);
    if (firewall.judgeRoute("INPUT", decodeIp(bytes, inInterface), { jiffies: START, clockNs: 0, outInterface: "" }, tracker).accepted) conntrack.commit(tracker.last());
  }
  return forms.map((_, index) => firewall.counters().find((counter) => counter.chain === `inet ${table} input` && counter.index === index + 1)!.packets);
}

export function countsInKernel(ruleset: string, packets: readonly Uint8Array[]): number[] {
  return [...inKernel(ruleset, packets).matchAll(/counter packets (\d+) bytes/g)].map((match) => Number(match[1]));
}

/** What `nft list ruleset`, then `after` (a shell command run in the same namespace), print once the packets were sent. */
export function inKernel(ruleset: string, packets: readonly Uint8Array[], after = "true"): string {
  const hex = packets.map((bytes) => Buffer.from(bytes).toString("hex"));
  // IPv6 datagrams (version 6) go to the PBX's IPv6 address through an IPv6 raw socket.
  const sender = `import socket, sys\nraw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)\nraw6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)\nfor h in sys.argv[1:]:\n    b = bytes.fromhex(h)\n    if b[0] >> 4 == 6: raw6.sendto(b, ("${PBX6}", 0))\n    else: raw.sendto(b, ("${PBX}", 0))\n`;
  const script = ["set -e", "ip link set lo up", `ip addr add ${PBX}/32 dev lo`, `ip -6 addr add ${PBX6}/128 dev lo nodad`, `TZ=UTC nft -f - <<'RULES'\n${ruleset}RULES`, `python3 -c '${sender}' ${hex.join(" ")}`, "sleep 0.2", "nft list ruleset", after].join("\n");
  const ran = spawnSync("unshare", ["--net", "bash", "-c", script], { encoding: "utf8", timeout: 60_000 });
  expect(ran.status, ran.stderr).toBe(0);
  return ran.stdout;
}
