import { describe, expect, it } from "vitest";
import { PBX, PBX6 } from "../../../helpers/firewall.js";
import { countsInKernel, countsInModel, noteNftKernelSkip, nftKernelHere, nftKernelRequired, rulesetCountingEach } from "../../../helpers/nft-rule-counts.js";
import { encodeIpv6Udp } from "../../../../src/net/ipv6.js";
import { encodeIpv4Udp, internetChecksum } from "../../../../src/net/ipv4.js";
import { parseAddress } from "../../../../src/net/address-number.js";
import { compileRulesetText } from "../../../../src/engines/model/compile-ruleset.js";
import { firewallState } from "../../../../src/engines/model/netfilter/firewall-state.js";
import { defaultKernelSettings } from "../../../../src/engines/model/kernel-settings.js";

/**
 * nft's numgen (nft_numgen.c), meta secpath, and the ECN and traffic-class
 * fields by name (`ip ecn ce`, `ip6 dscp ef`, `ip6 flowlabel`): counted rule
 * by rule over IPv4 and IPv6 datagrams in the model and in the kernel. Each
 * rule's numgen counts on its own, 0 for the first packet it sees; no packet
 * in the lab went through IPsec.
 */
noteNftKernelSkip("nft numgen, secpath and ECN");

const payload = new TextEncoder().encode("OPTIONS sip:x SIP/2.0\r\n\r\n");

function ipv4(index: number, tos: number): Uint8Array {
  const bytes = encodeIpv4Udp({ src: parseAddress(`198.18.9.${index + 1}`), dst: parseAddress(PBX), sport: 5060, dport: 5060, payload });
  bytes[1] = tos;
  bytes[10] = 0;
  bytes[11] = 0;
  const sum = internetChecksum(bytes, 0, 20);
  bytes[10] = sum >> 8;
  bytes[11] = sum & 0xff;
  return bytes;
}

/** Traffic class and flow label sit outside UDP's pseudo-header: the checksum stays right. */
function ipv6(index: number, trafficClass: number, flowLabel: number): Uint8Array {
  const bytes = encodeIpv6Udp({ src: parseAddress(`2001:db8:bad:1::${index + 1}`), dst: parseAddress(PBX6), sport: 5060, dport: 5060, payload });
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(0, ((6 << 28) | (trafficClass << 20) | flowLabel) >>> 0);
  return bytes;
}

const forms = [
  "numgen inc mod 3 0",
  "numgen inc mod 2 offset 10 11",
  "numgen random mod 1 0",
  "numgen random mod 2 { 0, 1 }",
  "meta secpath exists",
  "meta secpath missing",
  "meta secpath != 1",
  "meta ipsec 2",
  "ip ecn ce",
  "ip ecn not-ect",
  "ip6 ecn ect0",
  "ip6 dscp ef",
  "ip6 flowlabel 5",
];
const ruleset = rulesetCountingEach(forms);
const packets = [ipv4(0, 0x03), ipv4(1, 0x00), ipv4(2, 0xb8), ipv6(3, 0xba, 5), ipv6(4, 0x00, 0), ipv6(5, 0xb8, 7)];

describe("nftables numgen, meta secpath, ECN and the traffic class", () => {
  // Written down from the kernel's counts; the kernel half rechecks them wherever nft runs.
  const expected = [2, 3, 6, 6, 0, 6, 6, 0, 1, 2, 1, 2, 1];

  it("model: counters per rule, secpath missing on every packet, ECN and DSCP by name", () => {
    expect(countsInModel(ruleset, forms, packets)).toEqual(expected);
  });

  it.runIf(nftKernelHere || nftKernelRequired)("kernel: the same", () => {
    expect(countsInKernel(ruleset, packets)).toEqual(expected);
  });

  it("numgen random matches about its share, the same packets every run", () => {
    const share = ["numgen random mod 4 0"];
    const many = Array.from({ length: 800 }, (_, index) => ipv4(index % 200, 0));
    const [counted] = countsInModel(rulesetCountingEach(share), share, many);
    expect(counted).toBeGreaterThan(200 - 5 * 12.3);
    expect(counted).toBeLessThan(200 + 5 * 12.3);
    expect(countsInModel(rulesetCountingEach(share), share, many)[0]).toBe(counted);
  });

  it("refuses what nft refuses: numgen without mod, a modulus of 0, secpath compared with a word that is no boolean", () => {
    const state = () => firewallState(defaultKernelSettings, [PBX]);
    expect(() => compileRulesetText(rulesetCountingEach(["numgen inc 2"]), "n.nft", state())).toThrow(/numgen needs mod N/);
    expect(() => compileRulesetText(rulesetCountingEach(["numgen inc mod 0 0"]), "n.nft", state())).toThrow(/numgen mod 0/);
    expect(() => compileRulesetText(rulesetCountingEach(["meta secpath present"]), "n.nft", state())).toThrow(/"present" is not a number/);
  });
});
