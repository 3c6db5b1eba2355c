import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parseDefences, scenarioWithDefence } from "../../src/compare/defences.js";
import { runModel } from "../../src/engines/model/model-engine.js";
import { generateResponsiveRuleset } from "../../src/firewall/generate-responsive.js";
import { policySchema } from "../../src/firewall/policy.js";
import { kernelOracleHere } from "../helpers/route-oracle.js";
import { scenarioOf } from "../helpers/scenario.js";

const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
if (!kernelOracleHere && !required) console.log("skipping iptables-restore --test of the responsive ruleset: it needs root and unshare");

/** A phone that registers, then subscribes to 20 BLF keys at once: more SIP packets than a stranger may send. */
const blfPhone = scenarioOf(
  {
    name: "t",
    description: "t",
    durationSeconds: 30,
    pbx: { accounts: [{ users: "200-299", password: "pw-{user}" }] },
    hosts: { desk: { kind: "addresses", addresses: ["198.18.5.5"] } },
    traffic: [{ name: "blf", kind: "blf-subscribe", host: "desk", account: "201", keys: 20, watch: "202-221" }],
  },
  { policy: {} },
);

describe("defences compared on the same traffic", () => {
  it("knows the defences it runs, and says which are not", () => {
    expect(parseDefences("kernel,none")).toEqual(["kernel", "none"]);
    expect(() => parseDefences("kernel,fail2bann")).toThrow(/"fail2bann" is not a defence slamlab runs; choose from kernel, fail2ban, kernel\+fail2ban, responsive, none/);
    expect(() => parseDefences("none,none")).toThrow(/named twice/);
  });

  it("responsive: a phone the PBX accepted a registration from is trusted, where a stranger gets 6 packets", () => {
    const responsive = scenarioWithDefence(blfPhone, "responsive");
    const trusted = runModel(responsive);
    expect(trusted.events.filter((event) => event.kind === "subscribed")).toHaveLength(20);
    expect(trusted.verdicts.filter((verdict) => verdict.verdict === "dropped")).toEqual([]);
    // The same rules without the OUTPUT rule that learns from the PBX's 200: the burst of SUBSCRIBEs is a stranger's.
    const text = (responsive.firewall as { text: string }).text;
    const forgetful = { ...responsive, firewall: { kind: "ruleset" as const, path: "t.rules", text: text.split("\n").filter((line) => !line.startsWith("-A OUTPUT")).join("\n") } };
    const stranger = runModel(forgetful);
    expect(stranger.verdicts.filter((verdict) => verdict.verdict === "dropped").length).toBeGreaterThan(10);
    expect(stranger.events.filter((event) => event.kind === "subscribed").length).toBeLessThan(20);
  });

  it("none: nothing is dropped; kernel: the scenario's own firewall", () => {
    expect(runModel(scenarioWithDefence(blfPhone, "none")).verdicts.every((verdict) => verdict.verdict === "delivered")).toBe(true);
    expect(scenarioWithDefence(blfPhone, "kernel")).toBe(blfPhone);
  });

  it("fail2ban alone stands on an empty firewall of the scenario's kind: iptables with the ipset action, nftables with the nftables action", () => {
    const iptables = scenarioWithDefence(blfPhone, "fail2ban");
    expect(iptables.firewall.kind === "ruleset" && iptables.firewall.text).toMatch(/^\*filter/);
    expect(runModel(iptables).fail2ban!.sets).toEqual(["f2b-asterisk-tcp", "f2b-asterisk-udp"]);
    const onNft = { ...blfPhone, firewall: { ...blfPhone.firewall, format: "nft" as const } } as typeof blfPhone;
    const nft = scenarioWithDefence(onNft, "fail2ban");
    expect(nft.firewall.kind === "ruleset" && nft.firewall.text).toMatch(/^table inet filter/);
    expect(runModel(nft).fail2ban!.sets).toEqual(["addr-set-asterisk-tcp", "addr-set-asterisk-udp"]);
  });

  it.runIf(kernelOracleHere || required)("the responsive ruleset loads in the kernel, on a host and on a router with several ports and allowed sites", () => {
    for (const policy of [policySchema.parse({}), policySchema.parse({ placement: "router", sip: { ports: [5060, 5080] }, allowSites: ["198.18.10.0/24"] })]) {
      const text = generateResponsiveRuleset(policy, { pbxAddress: "198.51.100.10" });
      const loaded = spawnSync("unshare", ["--net", "iptables-restore", "--test"], { input: text, encoding: "utf8" });
      expect(loaded.status, loaded.stderr).toBe(0);
    }
  });
});
