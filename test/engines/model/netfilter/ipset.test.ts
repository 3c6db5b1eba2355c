import { describe, expect, it } from "vitest";
import { parseIpsetSave } from "../../../../src/firewall/ipset.js";
import { RulesetError } from "../../../../src/firewall/ruleset.js";
import { judgeInKernel, judgeInModel, kernelOracleHere, kernelOracleProblem, type OracleOutcome, type OracleSend } from "../../../helpers/kernel-oracle.js";

/**
 * ipset sets as fail2ban's ipset actions and blocklist clients leave them, and
 * SET rules that fill them: each case judged by the model against what the
 * kernel decided (written down, and rechecked in a network namespace with the
 * same `ipset save` file restored wherever root, unshare and ipset are there).
 */
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
if (!kernelOracleHere && !required) console.log(`skipping the kernel half of the ipset checks: ${kernelOracleProblem || "it needs root, unshare, iptables and ipset"}`);

const UDP = "-A INPUT -p udp";
const cases: Array<{ name: string; ipset: string; rules: string; sends: OracleSend[]; kernel: OracleOutcome }> = [
  {
    name: "fail2ban's ipset action: banned addresses rejected until their timeout runs out",
    ipset: "create f2b-asterisk hash:ip family inet hashsize 1024 maxelem 65536 timeout 600\nadd f2b-asterisk 10.0.0.5 timeout 590\nadd f2b-asterisk 10.0.0.6 timeout 1",
    rules: `${UDP} -m set --match-set f2b-asterisk src -j REJECT --reject-with icmp-port-unreachable`,
    sends: [{ src: "10.0.0.5" }, { src: "10.0.0.6" }, { src: "10.0.0.7" }, { src: "10.0.0.6", at: 1.6 }],
    kernel: { delivered: [false, false, true, true], counted: [2] },
  },
  {
    name: "a blocklist of networks (hash:net): the most specific prefix present decides",
    ipset: "create blocklist hash:net family inet hashsize 4096 maxelem 200000\nadd blocklist 10.1.0.0/16\nadd blocklist 10.2.3.0/24\nadd blocklist 10.9.9.9",
    rules: `${UDP} -m set --match-set blocklist src -j DROP`,
    sends: [{ src: "10.1.200.3" }, { src: "10.2.3.77" }, { src: "10.2.4.1" }, { src: "10.9.9.9" }, { src: "10.9.9.8" }],
    kernel: { delivered: [false, false, true, false, true], counted: [3] },
  },
  {
    name: "SET --add-set fills a block list from a hashlimit rule and goes on to the next rule",
    ipset: "create slammers hash:ip family inet hashsize 1024 maxelem 65536 timeout 60",
    rules: [
      `${UDP} -m set --match-set slammers src -j DROP`,
      `${UDP} -m hashlimit --hashlimit-above 2/min --hashlimit-burst 3 --hashlimit-mode srcip --hashlimit-name sip -j SET --add-set slammers src --exist`,
      `${UDP} -j ACCEPT`,
    ].join("\n"),
    sends: ["10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2"].map((src, index) => ({ src, at: index * 0.01 })),
    kernel: { delivered: [true, true, true, true, false, true], counted: [1, 1, 5] },
  },
  {
    name: "hash:ip,port against source and destination port, negated, with a bitmap:port of the ports guarded",
    ipset: "create allowed hash:ip,port family inet hashsize 1024 maxelem 65536\nadd allowed 10.0.0.1,udp:5060\ncreate sip-ports bitmap:port range 5000-6000\nadd sip-ports 5060",
    rules: `${UDP} -m set --match-set sip-ports dst -m set ! --match-set allowed src,dst -j DROP\n${UDP} -j ACCEPT`,
    sends: [{ src: "10.0.0.1" }, { src: "10.0.0.2" }, { src: "10.0.0.2", dport: 7000 }, { src: "10.0.0.1", sport: 5060, dport: 5061 }],
    kernel: { delivered: [true, false, true, true], counted: [1, 3] },
  },
];

describe("ipset sets", () => {
  for (const { name, ipset, rules, sends, kernel } of cases) {
    it(`model: ${name}`, () => {
      const model = judgeInModel(rules, sends, ipset);
      expect({ delivered: model.delivered, counted: model.counted }).toEqual(kernel);
    });
    it.runIf(kernelOracleHere || required)(`kernel: ${name}`, () => {
      expect(kernelOracleHere, `SLAMLAB_REQUIRE_DOCKER=1 but no iptables in a network namespace: ${kernelOracleProblem}`).toBe(true);
      expect(judgeInKernel(rules, sends, ipset)).toEqual(kernel);
    });
  }

  it("refuses a rule naming a set no ipset file creates, as iptables-restore does", () => {
    expect(() => judgeInModel(`${UDP} -m set --match-set nowhere src -j DROP`, [])).toThrow(/set nowhere does not exist .*--ipset FILE/);
  });

  it("names the file and line of what an ipset save file gets wrong, and what the model does not hold", () => {
    const problems: Array<[string, RegExp]> = [
      ["create a hash:ip\nadd a 10.0.0.300", /my\.ipset: .*line 2: set a \(hash:ip\): "10\.0\.0\.300" is not an IPv4 address/],
      ["add b 10.0.0.1", /line 1: add to set b, which no create line before it makes/],
      ["create c hash:mac", /line 1: set c is of type hash:mac, which the model does not hold/],
      ["create d hash:ip family inet6", /line 1: set d is family inet6/],
      ["create e hash:ip\nadd e 10.0.0.1 timeout 5", /line 2: set e was created without a timeout/],
      ["flush x", /line 1: "flush": expected create or add lines/],
    ];
    for (const [text, message] of problems) {
      const error = (() => {
        try {
          parseIpsetSave(text, "my.ipset");
        } catch (caught) {
          return caught as RulesetError;
        }
        return null;
      })();
      expect(error, text).toBeInstanceOf(RulesetError);
      expect(error!.message).toMatch(message);
    }
  });
});
