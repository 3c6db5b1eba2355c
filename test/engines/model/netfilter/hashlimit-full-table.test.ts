import { describe, expect, it } from "vitest";
import { judgeInKernel, judgeInModel, kernelOracleHere, kernelOracleProblem, type OracleOutcome, type OracleSend } from "../../../helpers/kernel-oracle.js";

/**
 * A hashlimit table holding --hashlimit-htable-max entries has no room for a
 * new source: dsthash_alloc_init fails and hashlimit_mt sets hotdrop, so the
 * kernel drops the packet there, whatever the rule's target, and counts no
 * rule. Each case runs in the model and, where root and unshare allow, in the
 * kernel: a network namespace with the same rules, the same packets sent over
 * its loopback from raw sockets, and its rule counters read back.
 */
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
if (!kernelOracleHere && !required) console.log(`skipping the kernel half of the hashlimit full-table checks: ${kernelOracleProblem || "it needs root, unshare and iptables"}`);

const LIMITED = "-A INPUT -p udp --dport 5060 -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name sip";
const AFTER = "-A INPUT -p udp --dport 5060 -j ACCEPT";
const rulesWith = (options: string) => `${LIMITED} ${options} -j ACCEPT\n${AFTER}`;
const inModel = (options: string, sends: readonly OracleSend[]) => judgeInModel(rulesWith(options), sends);
const inKernel = (options: string, sends: readonly OracleSend[]) => judgeInKernel(rulesWith(options), sends);

const cases: Array<{ name: string; options: string; sends: OracleSend[]; expected: OracleOutcome }> = [
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
    it.runIf(kernelOracleHere || required)(`kernel: ${name}`, () => {
      expect(kernelOracleHere, `SLAMLAB_REQUIRE_DOCKER=1 but no iptables in a network namespace: ${kernelOracleProblem}`).toBe(true);
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
