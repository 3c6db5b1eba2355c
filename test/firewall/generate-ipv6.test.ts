import { describe, expect, it } from "vitest";
import { generateRuleset } from "../../src/firewall/generate-ruleset.js";
import { policySchema } from "../../src/firewall/policy.js";
import { judgeInKernel, judgeInModel, kernelOracleHere, kernelOracleProblem, type OracleSend } from "../helpers/kernel-oracle.js";

const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
if (!kernelOracleHere && !required) console.log(`skipping the kernel half of the generated ip6tables checks: ${kernelOracleProblem || "it needs root, unshare and ip6tables"}`);

/** The generated ip6tables text without its table lines: chain declarations and rules, as the oracles wrap INPUT rules. */
const chainsAndRules = (text: string) =>
  text
    .split("\n")
    .filter((line) => /^(:SLAM|-A )/.test(line))
    .join("\n");

const target = { pbxAddress: "198.51.100.10", pbx6Address: "2001:db8:100::10" };
const REGISTER = "REGISTER sip:[2001:db8:100::10] SIP/2.0\r\nVia: SIP/2.0/UDP [2001:db8:bad:1::1]:5060\r\n\r\n";
/** 14 REGISTERs, each from the next address of one /64, then one from another /64. */
const rotation: OracleSend[] = [
  ...Array.from({ length: 14 }, (_, i) => ({ src: `2001:db8:bad:1::${(i + 1).toString(16)}`, payload: REGISTER, at: i * 0.02 })),
  { src: "2001:db8:600d:1::21", payload: REGISTER, at: 0.4 },
];
const policies = {
  "recent, string at offset 48": {},
  "recent, u32 at the UDP payload": { methodMatch: "u32" },
  "hashlimit with --hashlimit-srcmask 64": { matcher: { kind: "hashlimit", rate: 2, per: "minute", burst: 9 } },
};

describe("the ip6tables rules a policy generates", () => {
  it("count per /64 on lists of their own, and match the method where IPv6 puts it", () => {
    const text = generateRuleset(policySchema.parse({}), target, 6);
    expect(text).toContain("-d 2001:db8:100::10/128 -p udp -m udp --dport 5060");
    expect(text).toContain('--string "REGISTER " --algo kmp --from 48 --to 57');
    expect(text).toContain("-m recent --set --name SIP6 --mask ffff:ffff:ffff:ffff:: --rsource");
    expect(generateRuleset(policySchema.parse({ methodMatch: "u32" }), target, 6)).toContain("--u32 48=0x52454749&&52=0x53544552");
  });

  for (const [name, fields] of Object.entries(policies)) {
    const rules = chainsAndRules(generateRuleset(policySchema.parse(fields), target, 6));
    it(`model: ${name}: the rotation is blocked as one source at its 10th REGISTER, another /64 is not`, () => {
      const model = judgeInModel(rules, rotation, undefined, 6);
      expect(model.delivered).toEqual([...Array<boolean>(9).fill(true), ...Array<boolean>(5).fill(false), true]);
    });
    it.runIf(kernelOracleHere || required)(`kernel: ${name}: the same packets, the same counters`, () => {
      expect(kernelOracleHere, `SLAMLAB_REQUIRE_DOCKER=1 but no ip6tables in a network namespace: ${kernelOracleProblem}`).toBe(true);
      const model = judgeInModel(rules, rotation, undefined, 6);
      expect(judgeInKernel(rules, rotation, undefined, 6)).toEqual({ delivered: model.delivered, counted: model.counted });
    });
  }
});
