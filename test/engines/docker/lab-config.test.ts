import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { instrumentNftRuleset } from "../../../src/engines/docker/instrument-nft-ruleset.js";
import { instrumentRuleset, VERDICT_GROUP } from "../../../src/engines/docker/instrument-ruleset.js";
import { planTopology } from "../../../src/engines/docker/lab-topology.js";
import { extensionsConfig, iaxConfig, LAB_CERTIFICATE, MAKE_LAB_CERTIFICATE, pjsipConfig } from "../../../src/engines/docker/pjsip-config.js";
import { toolCommand } from "../../../src/engines/docker/tool-command.js";
import { runModel } from "../../../src/engines/model/model-engine.js";
import { generateRuleset } from "../../../src/firewall/generate-ruleset.js";
import { policySchema } from "../../../src/firewall/policy.js";
import { kernelOracleHere } from "../../helpers/kernel-oracle.js";
import { judgeRouteInKernel } from "../../helpers/route-oracle.js";
import { scenarioOf } from "../../helpers/scenario.js";

/** What the docker lab loads and configures, checked without Docker. */
describe("the lab's ruleset instrumentation", () => {
  const generated = generateRuleset(policySchema.parse({}), { pbxAddress: "198.51.100.10" });

  it("logs every deciding rule and every policy to the verdict group, and decides as before", () => {
    const instrumented = instrumentRuleset(generated);
    expect(instrumented).toContain(`-A SLV1 -j NFLOG --nflog-group ${VERDICT_GROUP} --nflog-prefix v:SLAM-CHECK:1`);
    expect(instrumented).toContain("-A SLV1 -j DROP");
    expect(instrumented).toContain(`-A INPUT -j NFLOG --nflog-group ${VERDICT_GROUP} --nflog-prefix v:INPUT:0`);
    expect(instrumented).not.toMatch(/^-A SLAM-\S+ .* -j DROP$/m);
  });

  it("gives the same verdicts as the original in the model, rule for rule", () => {
    const scenario = (text: string) =>
      scenarioOf(
        {
          name: "i",
          description: "i",
          durationSeconds: 30,
          pbx: { accounts: [{ users: "200-209", password: "p" }] },
          hosts: { scanner: { kind: "addresses", addresses: ["198.18.66.6"] } },
          traffic: [{ name: "flood", kind: "register-flood", host: "scanner", ratePps: 20, durationSeconds: 20, onAnswerLikeRandom: "walk-on" }],
        },
        { rulesetText: text },
      );
    const original = runModel(scenario(generated)).verdicts.map((v) => v.verdict);
    const instrumented = runModel(scenario(instrumentRuleset(generated))).verdicts.map((v) => v.verdict);
    expect(instrumented).toEqual(original);
  });

  it("logs what ends a packet's route in raw, mangle and security too, as the kernel loads it", () => {
    const text = [
      "*raw\n:PREROUTING DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -s 10.0.0.0/8 -j ACCEPT\n-A PREROUTING -p udp -j CT --notrack\nCOMMIT",
      "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.9.0.0/16 -j DROP\nCOMMIT",
      "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.8.0.0/16 -j DROP\nCOMMIT",
      "",
    ].join("\n");
    const instrumented = instrumentRuleset(text);
    expect(instrumented).toContain(`--nflog-prefix v:raw:PREROUTING:0`);
    expect(instrumented).toContain(`--nflog-prefix v:mangle:INPUT:1`);
    expect(instrumented).toContain(`--nflog-prefix v:INPUT:1`);
    expect(instrumented).toContain(`--nflog-prefix v:INPUT:0`);
    // ACCEPT outside filter passes the packet on: logging it would give one packet two verdicts.
    expect(instrumented).not.toContain("v:raw:PREROUTING:1");
    expect(instrumented).not.toContain("v:mangle:INPUT:0");
    if (kernelOracleHere) {
      const loaded = spawnSync("unshare", ["--net", "iptables-restore"], { input: instrumented, encoding: "utf8" });
      expect(loaded.status, loaded.stderr).toBe(0);
    }
  });

  it("keeps the options of REJECT and rules that were saved with counters", () => {
    const text = "*filter\n:INPUT ACCEPT [5:100]\n[3:60] -A INPUT -p udp -m udp --dport 5060 -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n";
    const instrumented = instrumentRuleset(text);
    expect(instrumented).toContain("-A SLV1 -j REJECT --reject-with icmp-port-unreachable");
    expect(instrumented).toContain("-A INPUT -p udp -m udp --dport 5060 -j SLV1");
  });
});

describe("the lab's Asterisk configuration", () => {
  const pbx = { address: "198.51.100.10", port: 5060, iax2Port: 4569, tlsPort: 5061, realm: "asterisk", interface: "eth0", accounts: [{ users: "200-201", password: "pw-{user}" }] };

  it("has an endpoint, auth and AOR per account, and binds the PBX's lab address", () => {
    const config = pjsipConfig(pbx);
    expect(config).toContain("bind=198.51.100.10:5060");
    expect(config).toContain("[201-auth]\ntype=auth\nauth_type=userpass\nusername=201\npassword=pw-201");
    expect(config).toContain("max_contacts=1\nremove_existing=yes");
    expect(extensionsConfig(pbx)).toContain("exten => 200,hint,PJSIP/200");
  });

  it("listens for SIP over TLS at the PBX's TLS port with the run's certificate, letting OpenSSL pick TLS 1.3", () => {
    const config = pjsipConfig({ ...pbx, tlsPort: 5071 });
    expect(config).toContain(`[transport-tls]\ntype=transport\nprotocol=tls\nbind=198.51.100.10:5071\ncert_file=${LAB_CERTIFICATE.cert}\npriv_key_file=${LAB_CERTIFICATE.key}\nmethod=sslv23`);
    expect(MAKE_LAB_CERTIFICATE).toContain(`-keyout ${LAB_CERTIFICATE.key} -out ${LAB_CERTIFICATE.cert}`);
  });

  it("makes every account an IAX2 peer with an MD5 secret, chan_iax2 bound to the PBX's address (bindport first, as iax.conf wants) and logging failed registrations", () => {
    const config = iaxConfig({ ...pbx, iax2Port: 4570 });
    expect(config).toMatch(/bindport=4570\nbindaddr=198\.51\.100\.10\nauthdebug=yes/);
    expect(config).toContain("[201]\ntype=friend\nhost=dynamic\nauth=md5\nsecret=pw-201");
  });
});

describe("the lab's address plan", () => {
  it("refuses scenario addresses in the ranges the lab keeps for its own hosts", () => {
    const scenario = scenarioOf({
      name: "t",
      description: "t",
      durationSeconds: 5,
      pbx: { accounts: [{ users: "200-201", password: "p" }] },
      hosts: { bad: { kind: "addresses", addresses: ["198.19.255.7"] } },
      traffic: [{ name: "p", kind: "phones", host: "bad", accounts: "200-200" }],
    });
    expect(() => planTopology(scenario, [{ agent: "phone-001", address: "198.19.255.7", port: 5060 }])).toThrow(/198\.19\.255\.7 \(phone-001\) is in a range the docker lab keeps/);
  });

  it("runs real tools with argument lists built from validated values, never a shell line", () => {
    const command = toolCommand({ name: "c", kind: "tool", host: "h", startSeconds: 0, tool: "svcrack", target: "200", passwords: "1000-1099" }, "198.18.66.6", 5070, "198.51.100.10", 5060);
    expect(command).toEqual(["svcrack", "-b", "198.18.66.6", "-P", "5070", "-u", "200", "-r", "1000-1099", "-p", "5060", "198.51.100.10"]);
  });

  it.runIf(kernelOracleHere && spawnSync("nft", ["--version"]).status === 0)("sends an nft verdict map's accept and drop elements to chains that log the rule that decided, and the kernel decides as for the admin's ruleset", () => {
    const ruleset = [
      "table inet filter {",
      "  map by_port { typeof udp dport : verdict; elements = { 5061 : drop, 5062 : accept } }",
      "  chain sip { udp dport 5060 drop; }",
      "  chain input {",
      "    type filter hook input priority filter; policy accept;",
      "    ip saddr vmap { 198.18.1.1:drop, 198.18.2.0/24 : jump sip, 198.18.3.3 : accept }",
      "    udp dport vmap @by_port",
      "    udp dport 5062 drop",
      "  }",
      "}",
      "",
    ].join("\n");
    const instrumented = instrumentNftRuleset(ruleset);
    expect(instrumented).toMatch(/198\.18\.1\.1 : goto (\S+)[\s\S]*chain \1 \{\s*counter log prefix "v:inet filter input:1:DROP" group 65000 drop/);
    expect(instrumented).toMatch(/udp dport vmap @(\S+)[\s\S]*/);
    expect(instrumented).toMatch(/5062 : goto \S+_2_accept/);
    const register = (cseq: number) => `REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: ${cseq} REGISTER\r\n\r\n`;
    const sends = [
      { src: "198.18.1.1", at: 0, payload: register(1) },
      { src: "198.18.2.9", at: 0.05, payload: register(2) },
      { src: "198.18.2.9", at: 0.1, dport: 5062, payload: register(3) },
      { src: "198.18.3.3", at: 0.15, dport: 5061, payload: register(4) },
      { src: "198.18.4.4", at: 0.2, dport: 5061, payload: register(5) },
      { src: "198.18.4.4", at: 0.25, dport: 5062, payload: register(6) },
    ];
    const delivered = [false, false, true, true, false, true];
    expect(judgeRouteInKernel(ruleset, sends, [5061, 5062], undefined, true).delivered).toEqual(delivered);
    expect(judgeRouteInKernel(instrumented, sends, [5061, 5062], undefined, true).delivered).toEqual(delivered);
  });

  it("loads an arp table as written: its chains see ARP frames only, so nothing in them logs a verdict", () => {
    const instrumented = instrumentNftRuleset("table arp guard {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    limit rate 1/second accept\n  }\n}\n");
    expect(instrumented).toMatch(/table arp guard \{\s*chain input \{\s*type filter hook input priority 0; policy drop;\s*limit rate 1\/second accept\s*\}/);
    expect(instrumented).not.toMatch(/v:arp guard/);
  });

  it("keeps named quotas, limits and ct helpers, so the lab loads the rules that name them", () => {
    const ruleset = 'table inet t {\n  limit sip_burst {\n    rate 1/minute burst 3 packets\n  }\n  quota sip_bytes {\n    until 200 bytes\n  }\n  ct helper sip-5060 {\n    type "sip" protocol udp;\n  }\n  chain input {\n    type filter hook input priority filter; policy accept;\n    udp dport 5060 ct helper set "sip-5060"\n    limit name "sip_burst" quota name "sip_bytes" accept\n  }\n}\n';
    const instrumented = instrumentNftRuleset(ruleset);
    expect(instrumented).toMatch(/limit sip_burst \{\s*rate 1\/minute burst 3 packets\s*\}/);
    expect(instrumented).toMatch(/quota sip_bytes \{\s*until 200 bytes\s*\}/);
    expect(instrumented).toMatch(/ct helper sip-5060 \{\s*type "sip" protocol udp;\s*\}/);
    if (!kernelOracleHere || spawnSync("nft", ["--version"]).status !== 0) return;
    const loaded = spawnSync("unshare", ["--net", "nft", "-f", "-"], { input: instrumented, encoding: "utf8" });
    expect(loaded.status, loaded.stderr).toBe(0);
  });

  it("loads a nat chain as written: it maps a connection's first packet and accepts, and the filter chains log what decides", () => {
    const ruleset = "table ip nat {\n  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n    udp dport 5080 redirect to :5060\n  }\n}\ntable inet filter {\n  chain input {\n    type filter hook input priority filter; policy accept;\n    ip saddr 10.0.0.2 udp dport 5060 drop\n  }\n}\n";
    const instrumented = instrumentNftRuleset(ruleset);
    expect(instrumented).toMatch(/chain prerouting \{\s*type nat hook prerouting priority (dstnat|-100); policy accept;\s*udp dport 5080 redirect to :5060\s*\}/);
    expect(instrumented).not.toMatch(/v:ip nat/);
    expect(instrumented).toMatch(/v:inet filter input:1:DROP/);
    if (!kernelOracleHere || spawnSync("nft", ["--version"]).status !== 0) return;
    const sends = [{ src: "10.0.0.1", dport: 5080 }, { src: "10.0.0.2", dport: 5080, at: 0.05 }, { src: "10.0.0.1", dport: 5080, at: 0.1 }];
    expect(judgeRouteInKernel(instrumented, sends, [5060]).delivered).toEqual(judgeRouteInKernel(ruleset, sends, [5060]).delivered);
  });

  it.runIf(kernelOracleHere && spawnSync("nft", ["--version"]).status === 0)("keeps an nft ruleset's named counters, so the lab loads rules that count into them, and the kernel decides as for the admin's ruleset", () => {
    const ruleset = [
      "table inet filter {",
      "  counter sip-dropped {",
      '    comment "SIP packets dropped"',
      "  }",
      "  chain inbound_ipv4 {",
      '    ip saddr 198.18.1.1 udp dport 5060 counter name "sip-dropped" drop',
      "  }",
      "  chain input {",
      "    type filter hook input priority filter; policy accept;",
      "    meta protocol vmap { ip : jump inbound_ipv4, ip6 : accept }",
      "  }",
      "}",
      "",
    ].join("\n");
    const instrumented = instrumentNftRuleset(ruleset);
    expect(instrumented).toMatch(/counter sip-dropped \{/);
    const sends = [
      { src: "198.18.1.1", at: 0, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n" },
      { src: "198.18.2.2", at: 0.05, payload: "REGISTER sip:198.51.100.10 SIP/2.0\r\nCSeq: 2 REGISTER\r\n\r\n" },
    ];
    expect(judgeRouteInKernel(ruleset, sends, [], undefined, true).delivered).toEqual([false, true]);
    expect(judgeRouteInKernel(instrumented, sends, [], undefined, true).delivered).toEqual([false, true]);
  });
});
