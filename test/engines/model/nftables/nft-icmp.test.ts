import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ipv4 } from "../../../helpers/capture-files.js";
import { PBX } from "../../../helpers/firewall.js";
import { countsInKernel, countsInModel, rulesetCountingEach } from "../../../helpers/nft-rule-counts.js";
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
const ruleset = rulesetCountingEach(forms);

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



describe("nftables ICMP and IPv6 expressions on IPv4 packets", () => {
  // Written down from the kernel's counts; the kernel half rechecks them wherever nft runs.
  const expected = [1, 2, 3, 1, 4, 0, 4, 0, 0, 0, 5, 0];

  it("model: ICMP matches read the ICMP header, IPv6 ones never match", () => {
    expect(countsInModel(ruleset, forms, packets)).toEqual(expected);
  });

  it.runIf(nftHere || required)("kernel: the same", () => {
    expect(countsInKernel(ruleset, packets)).toEqual(expected);
  });
});
