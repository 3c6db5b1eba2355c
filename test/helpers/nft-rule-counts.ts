import { spawnSync } from "node:child_process";
import { expect } from "vitest";
import { compileRulesetText } from "../../src/engines/model/compile-ruleset.js";
import { ConntrackTable } from "../../src/engines/model/conntrack.js";
import { defaultKernelSettings } from "../../src/engines/model/kernel-settings.js";
import { firewallState } from "../../src/engines/model/netfilter/firewall-state.js";
import { decodeIpv4 } from "../../src/net/ipv4.js";
import { PBX, START } from "./firewall.js";

/**
 * One counter per form in an inet table's input chain, and what each counted
 * of the same packets, in the model and in the kernel (`nft -f` in a network
 * namespace, the packets sent to its own address through a raw socket).
 */
export function rulesetCountingEach(forms: readonly string[], table = "t"): string {
  return `table inet ${table} {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n${forms.map((form) => `\t\t${form} counter`).join("\n")}\n\t}\n}\n`;
}

export function countsInModel(ruleset: string, forms: readonly string[], packets: readonly Uint8Array[], table = "t"): number[] {
  const firewall = compileRulesetText(ruleset, "counts.nft", firewallState(defaultKernelSettings, [PBX]));
  const conntrack = new ConntrackTable(defaultKernelSettings);
  const tracker = conntrack.tracker();
  for (const bytes of packets) {
    tracker.at(START);
    if (firewall.judgeRoute("INPUT", decodeIpv4(bytes), { jiffies: START, clockNs: 0, outInterface: "" }, tracker).accepted) conntrack.commit(tracker.last());
  }
  return forms.map((_, index) => firewall.counters().find((counter) => counter.chain === `inet ${table} input` && counter.index === index + 1)!.packets);
}

export function countsInKernel(ruleset: string, packets: readonly Uint8Array[]): number[] {
  const hex = packets.map((bytes) => Buffer.from(bytes).toString("hex"));
  const sender = `import socket, sys\nraw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)\nfor h in sys.argv[1:]:\n    raw.sendto(bytes.fromhex(h), ("${PBX}", 0))\n`;
  const script = ["set -e", "ip link set lo up", `ip addr add ${PBX}/32 dev lo`, `nft -f - <<'RULES'\n${ruleset}RULES`, `python3 -c '${sender}' ${hex.join(" ")}`, "sleep 0.2", "nft list ruleset"].join("\n");
  const ran = spawnSync("unshare", ["--net", "bash", "-c", script], { encoding: "utf8", timeout: 60_000 });
  expect(ran.status, ran.stderr).toBe(0);
  return [...ran.stdout.matchAll(/counter packets (\d+) bytes/g)].map((match) => Number(match[1]));
}
