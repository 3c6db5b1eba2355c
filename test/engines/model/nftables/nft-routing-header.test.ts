import { describe, expect, it } from "vitest";
import { PBX6 } from "../../../helpers/firewall.js";
import { countsInKernel, countsInModel, noteNftKernelSkip, nftKernelHere, nftKernelRequired, rulesetCountingEach } from "../../../helpers/nft-rule-counts.js";
import { encodeIpv6Udp } from "../../../../src/net/ipv6.js";
import { encodeIpv4Udp } from "../../../../src/net/ipv4.js";
import { parseAddress } from "../../../../src/net/address-number.js";
import { PBX } from "../../../helpers/firewall.js";
import { compileRulesetText } from "../../../../src/engines/model/compile-ruleset.js";
import { firewallState } from "../../../../src/engines/model/netfilter/firewall-state.js";
import { defaultKernelSettings } from "../../../../src/engines/model/kernel-settings.js";

/**
 * nft's `rt` expressions (nft_exthdr on the IPv6 routing header), as the
 * hardened rulesets' `rt type 0 counter drop` uses them: counted rule by rule
 * over IPv6 datagrams with and without a routing header and an IPv4 one, in
 * the model and in the kernel. A packet without the header breaks every `rt`
 * rule, `!=` included.
 */
noteNftKernelSkip("nft routing header");

const forms = ["rt type 0", "rt type != 0", "rt seg-left 1-3", "rt hdrlength 2", "rt nexthdr udp", "rt type { 0, 253 }"];
const ruleset = rulesetCountingEach(forms);

/** A UDP datagram to the PBX's IPv6 address, a routing header [type, segments left, Hdr Ext Len] put in first when given. */
function datagram(index: number, routing?: readonly [number, number, number]): Uint8Array {
  const udp = encodeIpv6Udp({ src: parseAddress(`2001:db8:bad:1::${index + 1}`), dst: parseAddress(PBX6), sport: 5060, dport: 5060, payload: new TextEncoder().encode("OPTIONS sip:x SIP/2.0\r\n\r\n") });
  if (!routing) return udp;
  const [type, left, ext] = routing;
  const header = new Uint8Array(8 * (ext + 1));
  header.set([17, ext, type, left]);
  const bytes = new Uint8Array(udp.length + header.length);
  bytes.set(udp.subarray(0, 40));
  bytes.set(header, 40);
  bytes.set(udp.subarray(40), 40 + header.length);
  bytes[6] = 43;
  new DataView(bytes.buffer).setUint16(4, udp.length - 40 + header.length);
  return bytes;
}

const packets = [
  datagram(0),
  datagram(1, [0, 0, 2]),
  datagram(2, [253, 2, 0]),
  datagram(3, [2, 0, 2]),
  encodeIpv4Udp({ src: parseAddress("198.18.9.1"), dst: parseAddress(PBX), sport: 5060, dport: 5060, payload: new TextEncoder().encode("OPTIONS sip:x SIP/2.0\r\n\r\n") }),
];

describe("nftables rt expressions on the IPv6 routing header", () => {
  // Written down from the kernel's counts; the kernel half rechecks them wherever nft runs.
  const expected = [1, 2, 1, 2, 3, 2];

  it("model: each field read from the routing header, no header no match", () => {
    expect(countsInModel(ruleset, forms, packets)).toEqual(expected);
  });

  it.runIf(nftKernelHere || nftKernelRequired)("kernel: the same", () => {
    expect(countsInKernel(ruleset, packets)).toEqual(expected);
  });

  it("refuses nft_rt's route lookups by name rather than reading them as the header", () => {
    expect(() => compileRulesetText(rulesetCountingEach(["rt mtu 1500"]), "rt.nft", firewallState(defaultKernelSettings, [PBX]))).toThrow(/rt mtu: nft_rt's route lookups .* are not modelled/);
  });
});
