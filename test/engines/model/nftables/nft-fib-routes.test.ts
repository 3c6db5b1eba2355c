import { describe, expect, it } from "vitest";
import { countersNamed, judgeRouteInKernel, judgeRouteInModel, kernelOracleHere, kernelOracleProblem } from "../../../helpers/route-oracle.js";
import type { OracleSend } from "../../../helpers/kernel-oracle.js";

/**
 * fib's route lookups counted rule by rule at prerouting, in the model and
 * in the kernel (a veth pair whose far end writes the datagrams as from the
 * wire, a default route through the PBX's interface): the route back to a
 * source and the route to a destination, the host's own addresses (local
 * routes, which give no interface), multicast, 0.0.0.0 and broadcast sources.
 */
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
if (!kernelOracleHere && !required) console.log(`skipping the kernel half of the fib route checks: ${kernelOracleProblem || "it needs root, unshare and nft"}`);

const forms = [
  "fib saddr . iif oif missing",
  "fib saddr oif missing",
  'fib saddr oif "eth0"',
  "fib daddr oif missing",
  'fib daddr oif "lo"',
  'fib daddr oif "eth0"',
  "fib daddr . iif oif missing",
  "fib daddr type local",
  "fib saddr type { multicast, broadcast }",
];
const ruleset = `table ip t {\n\tchain pre {\n\t\ttype filter hook prerouting priority raw; policy accept;\n${forms.map((form) => `\t\t${form} counter`).join("\n")}\n\t}\n}\n`;
const keys = forms.map((_, index) => `ip t pre:${index + 1}`);
const sends: OracleSend[] = [
  { src: "198.18.70.7" },
  { src: "198.18.70.7", dst: "127.0.0.1" },
  { src: "198.18.70.7", dst: "10.9.9.9" },
  { src: "198.18.70.7", dst: "224.0.0.5" },
  { src: "224.0.0.5" },
  { src: "0.0.0.0" },
  { src: "198.51.100.10" },
  { src: "127.0.0.5" },
].map((send, index) => ({ ...send, at: index * 0.02 }));

describe("nftables fib: routes back to sources and on to destinations", () => {
  // Written down from the kernel's counts; the kernel half rechecks them wherever root and unshare are. Only the
  // counters: the kernel's routing then drops the martians (a source of its own or 0/8, 224/4, 127/8 from the wire),
  // which lab traffic never is and the model does not judge.
  const expected = Object.fromEntries(keys.map((key, index) => [key, [2, 2, 6, 6, 0, 2, 6, 6, 2][index]!]));
  const counted = (outcome: ReturnType<typeof judgeRouteInModel>) => countersNamed(outcome, keys).counted;

  it("model: a local route gives no interface, every other address routes through eth0", () => {
    expect(counted(judgeRouteInModel(ruleset, sends))).toEqual(expected);
  });

  it.runIf(kernelOracleHere || required)("kernel: the same", () => {
    expect(counted(judgeRouteInKernel(ruleset, sends))).toEqual(expected);
  });
});

/** The same over IPv6 (nft_fib_ipv6.c): a link-local source, the unspecified one (duplicate address detection's), the host's own, a multicast destination. */
const forms6 = ["fib saddr . iif oif missing", "fib saddr . mark . iif oif missing", 'fib daddr oif "eth0"', "fib daddr oif missing", "fib daddr type local", "fib saddr type local", "fib saddr type unicast", "fib saddr type anycast", "fib daddr type multicast"];
// Only the test's datagrams (UDP to 5060), not the neighbour discovery the veth makes of itself.
const ruleset6 = `table ip6 t {\n\tchain pre {\n\t\ttype filter hook prerouting priority raw; policy accept;\n\t\tudp dport 5060 jump c\n\t}\n\tchain c {\n${forms6.map((form) => `\t\t${form} counter`).join("\n")}\n\t}\n}\n`;
const keys6 = forms6.map((_, index) => `ip6 t c:${index + 1}`);
const sends6: OracleSend[] = [
  { src: "2001:db8:bad::7" },
  { src: "fe80::7" },
  { src: "::" },
  { src: "2001:db8:100::10" },
  { src: "2001:db8:bad::7", dst: "2001:db8:99::1" },
  { src: "2001:db8:bad::7", dst: "ff02::1" },
].map((send, index) => ({ ...send, at: index * 0.02 }));

describe("nftables fib over IPv6", () => {
  const expected = Object.fromEntries(keys6.map((key, index) => [key, [1, 1, 2, 4, 4, 1, 4, 1, 1][index]!]));
  const counted = (outcome: ReturnType<typeof judgeRouteInModel>) => countersNamed(outcome, keys6).counted;

  it("model: the host's own address has no route back, :: is anycast and routes back by the default route", () => {
    expect(counted(judgeRouteInModel(ruleset6, sends6))).toEqual(expected);
  });

  it.runIf(kernelOracleHere || required)("kernel: the same", () => {
    expect(counted(judgeRouteInKernel(ruleset6, sends6))).toEqual(expected);
  });
});
