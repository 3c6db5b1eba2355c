import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ipv4 } from "../../../helpers/capture-files.js";
import { PBX } from "../../../helpers/firewall.js";
import { countsInKernel, countsInModel, rulesetCountingEach } from "../../../helpers/nft-rule-counts.js";
import { kernelOracleHere, kernelOracleProblem } from "../../../helpers/kernel-oracle.js";

/**
 * `tcp flags` in each form nft takes, counted rule by rule over TCP
 * segments with every flag combination a scan or a stack sends, in the
 * model and in the kernel (`nft -f` in a network namespace, the segments
 * sent to the namespace's own address through a raw socket).
 */
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
const nftHere = kernelOracleHere && spawnSync("nft", ["--version"]).status === 0;
if (!nftHere && !required) console.log(`skipping the kernel half of the tcp flags checks: ${kernelOracleProblem || "it needs root, unshare and nft"}`);

const forms = [
  "tcp flags syn",
  "tcp flags == syn",
  "tcp flags != syn",
  "tcp flags syn / syn,ack",
  "tcp flags & (fin|syn|rst|ack) == syn",
  "tcp flags { syn, syn|ack }",
  "tcp flags syn,ack",
  "tcp flags & (syn | ack) == syn|ack",
  "tcp flags != syn / syn,ack",
  "tcp flags & (fin|rst) != 0",
  "tcp dport 22 tcp flags ack",
];
const ruleset = rulesetCountingEach(forms);
/** SYN, SYN|ACK, ACK, FIN|ACK, RST, PSH|ACK, SYN|FIN, none, SYN with ECE and CWR, and a UDP datagram (no TCP header: every form breaks). */
const flagSets = [0x02, 0x12, 0x10, 0x11, 0x04, 0x18, 0x03, 0x00, 0xc2, -1];

function segment(flags: number, index: number): Uint8Array {
  if (flags < 0) {
    const udp = new Uint8Array(8 + 4);
    new DataView(udp.buffer).setUint16(0, 5060);
    new DataView(udp.buffer).setUint16(2, 22);
    new DataView(udp.buffer).setUint16(4, udp.length);
    return ipv4(17, `198.18.7.${index + 1}`, PBX, udp);
  }
  const tcp = new Uint8Array(20);
  const view = new DataView(tcp.buffer);
  view.setUint16(0, 40000 + index);
  view.setUint16(2, 22);
  view.setUint32(4, 1000 + index);
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  view.setUint16(14, 65535);
  return ipv4(6, `198.18.7.${index + 1}`, PBX, tcp);
}
const segments = flagSets.map(segment);



describe("nftables tcp flags", () => {
  // Written down from the kernel's counts; the kernel half rechecks them wherever nft runs.
  const expected = [4, 1, 8, 3, 2, 2, 7, 1, 6, 3, 4];

  it("model: each form counts the segments nft's compiled expression matches", () => {
    expect(countsInModel(ruleset, forms, segments)).toEqual(expected);
  });

  it.runIf(nftHere || required)("kernel: the same", () => {
    expect(countsInKernel(ruleset, segments)).toEqual(expected);
  });
});
