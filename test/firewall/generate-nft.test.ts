import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { compileRulesetText } from "../../src/engines/model/compile-ruleset.js";
import { firewallState } from "../../src/engines/model/netfilter/firewall-state.js";
import { defaultKernelSettings } from "../../src/engines/model/kernel-settings.js";
import { contextAt, udpPacket } from "../helpers/firewall.js";
import { builtinPolicies, resolvePolicy } from "../../src/firewall/builtin-policies.js";
import { generateNftRuleset, nftDuration, nftRate } from "../../src/firewall/generate-nft.js";
import { policySchema, type Policy } from "../../src/firewall/policy.js";
import { judgeRouteInKernel, judgeRouteInModel, kernelOracleHere } from "../helpers/route-oracle.js";

/**
 * Policies as nftables rulesets: each loads with the real nft and reads back
 * with `nft list ruleset` as exactly the text generated, and the model and
 * the kernel judge a flood and an allowed site against it alike.
 */
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
const nftHere = kernelOracleHere && spawnSync("nft", ["--version"]).status === 0;
if (!nftHere && !required) console.log("skipping the nft round trips: they need root, unshare and nft");

const variants = {
  ...Object.fromEntries(Object.keys(builtinPolicies).map((name) => [name, resolvePolicy(name, "test").policy])),
  everything: policySchema.parse({
    placement: "router",
    allowSites: ["198.18.10.0/24", "203.0.113.5/32"],
    sip: { ports: [5060, 5061], transports: ["udp", "tcp"] },
    methods: ["REGISTER", "INVITE", "SUBSCRIBE"],
    matcher: { kind: "hashlimit", rate: 7, per: "second", burst: 3, expireSeconds: 90, name: "H" },
    escalation: { enabled: true, strikes: 2, withinSeconds: 600, blockSeconds: 3600 },
    logging: { kind: "nflog", group: 5 },
  }),
  tcpWrites: policySchema.parse({ sip: { transports: ["udp", "tcp"], tcpCount: "writes" } }),
  tls: policySchema.parse({ sip: { transports: ["udp", "tcp"] }, tls: {} }),
  tlsPorts: policySchema.parse({ tls: { ports: [5061, 5063] } }),
};
/** Each policy again with the PBX's IPv6 address: its rules for IPv6 sources, per /64, load and read back alike. */
const withIpv6 = ["default", "strict", "everything", "tls"] as const;

describe("policies as nftables rulesets", () => {
  it("durations and rates as nft prints them", () => {
    expect([nftDuration(120), nftDuration(90), nftDuration(86_400 + 3600 + 1)]).toEqual(["2m", "1m30s", "1d1h1s"]);
    expect([nftRate(10, 60), nftRate(3, 7), nftRate(5, 1), nftRate(20, 3600)]).toEqual(["10/minute", "37029/day", "5/second", "20/hour"]);
  });

  for (const [name, policy, pbx6Address] of [...Object.entries(variants).map(([name, policy]) => [name, policy, undefined] as const), ...withIpv6.map((name) => [`${name} with --pbx6`, (variants as Record<string, Policy>)[name]!, "2001:db8::10"] as const)]) {
    it.runIf(nftHere || required)(`${name}: nft -f loads it and nft list ruleset gives back the same text`, () => {
      const text = generateNftRuleset(policy, { pbxAddress: "198.51.100.10", ...(pbx6Address ? { pbx6Address } : {}) });
      const ran = spawnSync("unshare", ["--net", "bash", "-c", "nft -f - && nft list ruleset"], { input: text, encoding: "utf8" });
      expect(ran.status, ran.stderr).toBe(0);
      expect(ran.stdout).toBe(text);
    });
  }

  const flood = Array.from({ length: 14 }, (_, index) => ({ src: "198.18.66.6", at: index * 0.02, payload: `REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: ${index + 1} REGISTER\r\n\r\n` }));
  const site = Array.from({ length: 14 }, (_, index) => ({ src: "198.18.10.9", at: 0.01 + index * 0.02, payload: `REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: ${100 + index} REGISTER\r\n\r\n` }));
  const sends = [...flood, ...site].sort((a, b) => a.at - b.at);
  const policy = policySchema.parse({ allowSites: ["198.18.10.0/24"], matcher: { kind: "recent", hits: 10, seconds: 60, name: "SIP" } });
  // The flood's first 9 REGISTERs pass (the 10th in a burst is over) and it stays blocked; the site is never counted.
  const delivered = sends.map((send) => send.src === "198.18.10.9" || flood.indexOf(send) < 9);

  it.runIf(nftHere || required)("kernel: with the PBX's IPv6 address, an attacker rotating through its /64 is counted as one source and blocked at its 10th REGISTER, another /64 untouched", () => {
    // Every source address on lo of a fresh namespace; each REGISTER from its own address, received (or not) by the PBX's socket.
    const attackers = Array.from({ length: 14 }, (_, index) => `2001:db8:66:1::${index + 1}`);
    const office = ["2001:db8:77:1::1", "2001:db8:77:1::1", "2001:db8:77:1::2"];
    const sends = [...attackers, ...office];
    const text = generateNftRuleset(policySchema.parse({}), { pbxAddress: "198.51.100.10", pbx6Address: "2001:db8::10" });
    const sender = [
      "import socket, sys",
      "pbx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)",
      "pbx.bind(('2001:db8::10', 5060))",
      "pbx.settimeout(0.1)",
      "got = set()",
      "for index, src in enumerate(sys.argv[1:]):",
      "    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)",
      "    s.bind((src, 0))",
      "    s.sendto(('REGISTER sip:pbx SIP/2.0\\r\\nCSeq: %d REGISTER\\r\\n\\r\\n' % index).encode(), ('2001:db8::10', 5060))",
      "    try:",
      "        while True:",
      "            got.add(int(pbx.recv(2048).decode().split('CSeq: ')[1].split(' ')[0]))",
      "    except socket.timeout:",
      "        pass",
      "print(' '.join(str(i) for i in sorted(got)))",
    ].join("\n");
    const script = [
      "set -e",
      "ip link set lo up",
      ...["2001:db8::10", ...new Set(sends)].map((address) => `ip -6 addr add ${address}/128 dev lo nodad`),
      `nft -f - <<'RULES'\n${text}RULES`,
      `python3 -c "$SENDER" ${sends.join(" ")}`,
    ].join("\n");
    const ran = spawnSync("unshare", ["--net", "bash", "-c", script], { input: "", encoding: "utf8", env: { ...process.env, SENDER: sender }, timeout: 60_000 });
    expect(ran.status, ran.stderr).toBe(0);
    const received = new Set(ran.stdout.trim().split(" ").map(Number));
    // The /64's first 9 pass (10 a minute, a burst of 9), then it is blocked whatever address it takes; the office's 3 pass.
    expect(sends.map((_, index) => received.has(index))).toEqual([...attackers.map((_, index) => index < 9), true, true, true]);
  });

  it("model: with the PBX's IPv6 address, the same rotation is blocked at its 10th REGISTER as one source, another /64 untouched", () => {
    const attackers = Array.from({ length: 14 }, (_, index) => `2001:db8:66:1::${index + 1}`);
    const office = ["2001:db8:77:1::1", "2001:db8:77:1::1", "2001:db8:77:1::2"];
    const text = generateNftRuleset(policySchema.parse({}), { pbxAddress: "198.51.100.10", pbx6Address: "2001:db8::10" });
    const state = firewallState(defaultKernelSettings, ["198.51.100.10", "2001:db8::10"]);
    const firewall = compileRulesetText(text, "generated.nft", state);
    const accepted = [...attackers, ...office].map((src, index) =>
      firewall.judge("INPUT", udpPacket(src, `REGISTER sip:pbx SIP/2.0\r\nCSeq: ${index} REGISTER\r\n\r\n`, { dst: "2001:db8::10" }), contextAt(defaultKernelSettings.startJiffies + index)).accepted,
    );
    expect(accepted).toEqual([...attackers.map((_, index) => index < 9), true, true, true]);
  });

  it("model: the reference shape blocks a flood at its 10th REGISTER and never counts an allowed site", () => {
    expect(judgeRouteInModel(generateNftRuleset(policy, { pbxAddress: "198.51.100.10" }), sends).delivered).toEqual(delivered);
  });
  it.runIf(nftHere || required)("kernel: the same", () => {
    expect(judgeRouteInKernel(generateNftRuleset(policy, { pbxAddress: "198.51.100.10" }), sends, [], undefined, true).delivered).toEqual(delivered);
  });
});
