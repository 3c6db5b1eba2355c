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
const cases: Array<{ name: string; ipset: string; rules: string; sends: OracleSend[]; family?: 4 | 6; kernel: OracleOutcome }> = [
  {
    name: "fail2ban's ipset action: banned addresses rejected until their timeout runs out",
    ipset: "create f2b-asterisk hash:ip family inet hashsize 1024 maxelem 65536 timeout 600\nadd f2b-asterisk 10.0.0.5 timeout 590\nadd f2b-asterisk 10.0.0.6 timeout 3",
    rules: `${UDP} -m set --match-set f2b-asterisk src -j REJECT --reject-with icmp-port-unreachable`,
    // 3 s, not 1: the sender starts after the restore, which took over a second on a loaded machine.
    sends: [{ src: "10.0.0.5" }, { src: "10.0.0.6" }, { src: "10.0.0.7" }, { src: "10.0.0.6", at: 3.6 }],
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
    name: "bitmap:ip: a block list over a range, one with a netmask (a /24 an element), and SET adding only what falls in the range",
    ipset: [
      "create lan bitmap:ip range 10.0.0.0-10.0.0.255 timeout 60",
      "add lan 10.0.0.5 timeout 50",
      "create nets bitmap:ip range 10.1.0.0/16 netmask 24",
      "add nets 10.1.7.0",
      "create seen bitmap:ip range 10.2.0.0-10.2.0.255 timeout 60",
    ].join("\n"),
    rules: [`${UDP} -m set --match-set lan src -j DROP`, `${UDP} -m set --match-set nets src -j DROP`, `${UDP} -m set --match-set seen src -j DROP`, `${UDP} -j SET --add-set seen src`].join("\n"),
    sends: [{ src: "10.0.0.5" }, { src: "10.0.0.6" }, { src: "10.1.7.200" }, { src: "10.1.8.1" }, { src: "10.2.0.9" }, { src: "10.2.0.9", at: 0.02 }, { src: "10.3.0.1" }, { src: "10.3.0.1", at: 0.04 }],
    kernel: { delivered: [false, true, false, true, true, false, true, true], counted: [1, 1, 1, 5] },
  },
  {
    name: "hash:ip,port against source and destination port, negated, with a bitmap:port of the ports guarded",
    ipset: "create allowed hash:ip,port family inet hashsize 1024 maxelem 65536\nadd allowed 10.0.0.1,udp:5060\ncreate sip-ports bitmap:port range 5000-6000\nadd sip-ports 5060",
    rules: `${UDP} -m set --match-set sip-ports dst -m set ! --match-set allowed src,dst -j DROP\n${UDP} -j ACCEPT`,
    sends: [{ src: "10.0.0.1" }, { src: "10.0.0.2" }, { src: "10.0.0.2", dport: 7000 }, { src: "10.0.0.1", sport: 5060, dport: 5061 }],
    kernel: { delivered: [true, false, true, true], counted: [1, 3] },
  },
  {
    name: "sets as `ipset save` writes them on a fail2ban host: comments (with spaces), counters, skbinfo, an inet6 set beside the inet ones",
    ipset: [
      "create blocklist hash:net family inet hashsize 4096 maxelem 200000 counters comment skbinfo",
      'add blocklist 10.1.0.0/16 packets 12 bytes 840 comment "scanner farm, seen 2026-11" skbmark 0x1',
      "create f2b-asterisk hash:ip family inet hashsize 1024 maxelem 65536 timeout 600 bucketsize 12 initval 0x1c7a9a58",
      "add f2b-asterisk 10.0.0.5 timeout 500",
      "create f2b-asterisk6 hash:ip family inet6 hashsize 1024 maxelem 65536 timeout 600 bucketsize 12 initval 0x1c7a9a59",
      "add f2b-asterisk6 2001:db8::5 timeout 500",
      "",
    ].join("\n"),
    rules: `${UDP} -m set --match-set blocklist src -j DROP\n${UDP} -m set --match-set f2b-asterisk src -j DROP`,
    sends: [{ src: "10.1.2.3" }, { src: "10.0.0.5" }, { src: "10.0.0.6" }],
    kernel: { delivered: [false, false, true], counted: [1, 1] },
  },
  {
    name: "hash:ip with netmask 24: an element stands for its /24, and SET --add-set adds the packet's /24",
    ipset: "create per24 hash:ip family inet hashsize 1024 maxelem 65536 netmask 24 timeout 60\nadd per24 10.0.5.77",
    rules: [
      `${UDP} -m set --match-set per24 src -j DROP`,
      `${UDP} -s 10.0.7.9 -j SET --add-set per24 src`,
      `${UDP} -j ACCEPT`,
    ].join("\n"),
    sends: [{ src: "10.0.5.1" }, { src: "10.0.6.1" }, { src: "10.0.7.9" }, { src: "10.0.7.200" }],
    kernel: { delivered: [false, true, true, false], counted: [2, 1, 2] },
  },
  {
    name: "hash:net,port: an office's networks allowed to their ports only, the most specific prefix first",
    ipset: "create offices hash:net,port family inet hashsize 1024 maxelem 65536\nadd offices 10.0.0.0/24,udp:5060\nadd offices 10.0.0.128/25,udp:5061\nadd offices 10.5.5.5,udp:5060",
    rules: `${UDP} -m set --match-set offices src,dst -j ACCEPT\n${UDP} -j DROP`,
    sends: [{ src: "10.0.0.1" }, { src: "10.0.0.1", dport: 5061 }, { src: "10.0.0.200", dport: 5061 }, { src: "10.0.0.200" }, { src: "10.5.5.5" }, { src: "10.5.5.6" }],
    kernel: { delivered: [true, false, true, true, true, false], counted: [4, 2] },
  },
  {
    name: "list:set: a blocklist and fail2ban's set as one, each member tried in turn; a member of two dimensions never matches the rule's one flag",
    ipset: [
      "create blocklist hash:net family inet hashsize 1024 maxelem 65536",
      "add blocklist 10.1.0.0/16",
      "create f2b-asterisk hash:ip family inet hashsize 1024 maxelem 65536 timeout 600",
      "add f2b-asterisk 10.0.0.5 timeout 500",
      "create pairs hash:ip,port family inet hashsize 1024 maxelem 65536",
      "add pairs 10.0.0.9,udp:5060",
      "create banned list:set size 8",
      "add banned blocklist",
      "add banned f2b-asterisk",
      "add banned pairs",
    ].join("\n"),
    rules: `${UDP} -m set --match-set banned src -j DROP`,
    sends: [{ src: "10.1.2.3" }, { src: "10.0.0.5" }, { src: "10.0.0.9" }, { src: "10.0.0.6" }],
    kernel: { delivered: [false, false, true, true], counted: [2] },
  },
  {
    name: "ip6tables with fail2ban's inet6 set and an inet6 blocklist of /64s; SET --add-set fills the inet6 set",
    ipset: "create f2b-asterisk6 hash:ip family inet6 hashsize 1024 maxelem 65536 timeout 600\nadd f2b-asterisk6 2001:db8:1::5 timeout 500\ncreate nets6 hash:net family inet6 hashsize 1024 maxelem 65536\nadd nets6 2001:db8:2::/64",
    rules: [
      `${UDP} -m set --match-set f2b-asterisk6 src -j DROP`,
      `${UDP} -m set --match-set nets6 src -j DROP`,
      `${UDP} -s 2001:db8:3::9 -j SET --add-set f2b-asterisk6 src`,
    ].join("\n"),
    sends: [{ src: "2001:db8:1::5" }, { src: "2001:db8:1::6" }, { src: "2001:db8:2::77" }, { src: "2001:db8:2:1::1" }, { src: "2001:db8:3::9" }, { src: "2001:db8:3::9" }],
    family: 6,
    kernel: { delivered: [false, true, false, true, true, false], counted: [2, 1, 1] },
  },
];

describe("ipset sets", () => {
  for (const { name, ipset, rules, sends, family = 4, kernel } of cases) {
    it(`model: ${name}`, () => {
      const model = judgeInModel(rules, sends, ipset, family);
      expect({ delivered: model.delivered, counted: model.counted }).toEqual(kernel);
    });
    it.runIf(kernelOracleHere || required)(`kernel: ${name}`, () => {
      expect(kernelOracleHere, `SLAMLAB_REQUIRE_DOCKER=1 but no iptables in a network namespace: ${kernelOracleProblem}`).toBe(true);
      expect(judgeInKernel(rules, sends, ipset, family)).toEqual(kernel);
    });
  }

  it("refuses an iptables rule naming an inet6 set, as iptables-restore does", () => {
    expect(() => judgeInModel(`${UDP} -m set --match-set s6 src -j DROP`, [], "create s6 hash:ip family inet6\nadd s6 2001:db8::1")).toThrow(/set s6 is family inet6, and this is an iptables rule .*The protocol family of set s6 is IPv6, which is not applicable/);
  });

  it("refuses a rule naming a set no ipset file creates, as iptables-restore does", () => {
    expect(() => judgeInModel(`${UDP} -m set --match-set nowhere src -j DROP`, [])).toThrow(/set nowhere does not exist .*--ipset FILE/);
  });

  it("names the file and line of what an ipset save file gets wrong, and what the model does not hold", () => {
    const problems: Array<[string, RegExp]> = [
      ["create a hash:ip\nadd a 10.0.0.300", /my\.ipset: .*line 2: set a \(hash:ip\): "10\.0\.0\.300" is not an IPv4 address/],
      ["add b 10.0.0.1", /line 1: add to set b, which no create line before it makes/],
      ["create c hash:mac", /line 1: set c is of type hash:mac, which the model does not hold/],
      ["create d hash:ip,port family inet6", /line 1: set d: hash:ip,port of family inet6 is not modelled/],
      ["create f hash:ip family inet6\nadd f 10.0.0.1", /line 2: set f \(hash:ip\): "10\.0\.0\.1" is not an IPv6 address \(the set is family inet6\)/],
      ["create g hash:net netmask 24", /line 1: set g: netmask is modelled for hash:ip and bitmap:ip of family inet/],
      ["create k bitmap:ip range 10.0.0.0/24\nadd k 10.0.1.1", /line 2: set k: 10\.0\.1\.1 is outside its range \(Element is out of the range of the set\)/],
      ["create l bitmap:ip", /line 1: set l: bitmap:ip needs "range FROM-TO" or "range NET\/PREFIX"/],
      ["create m bitmap:ip range 10.0.0.0/8", /line 1: set m: bitmap:ip's range must run upwards and hold at most 65536 addresses/],
      ["create h hash:ip forceadd", /line 1: set h: "forceadd" is not modelled/],
      ["create i hash:ip hashsiz 1024", /line 1: set i: "hashsiz" is not an option of ipset create/],
      ["create j list:set\nadd j nothing", /line 2: set j \(list:set\): nothing is no set created before this line/],
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
