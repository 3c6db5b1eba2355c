import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/cli/run-scenario.js";
import { ModelEngine } from "../../src/engines/model/model-engine.js";
import { addressMappings, mapIpsetAddresses, mapRulesetAddresses } from "../../src/firewall/address-map.js";
import { loadScenario } from "../../src/scenario/load-scenario.js";
import { ScenarioError } from "../../src/scenario/scenario.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";

const map = addressMappings({ "81.2.3.0/24": "198.18.10.0/24", "81.2.9.5": "198.51.100.10", "192.168.1.0/24": "192.0.2.0/24" });

describe("an admin's real addresses mapped onto the lab's", () => {
  it("rewrites every address option of the ruleset, keeping its lines, and notes what it covers only in part", () => {
    const text = [
      "*filter",
      ":INPUT DROP [0:0]",
      "-A INPUT -s 81.2.3.0/24 -d 81.2.9.5/32 -p udp -m udp --dport 5060 -j ACCEPT",
      "[3:120] -A INPUT -m iprange --src-range 81.2.3.10-81.2.3.20 -j ACCEPT",
      '-A INPUT -p udp -m string --string "sip:81.2.9.5" --algo bm -m comment --comment "our PBX 81.2.9.5" -j ACCEPT',
      "-A INPUT -s 81.0.0.0/8 -j DROP",
      "-A INPUT -s 10.0.0.0/8 -j ACCEPT",
      "COMMIT",
      "",
    ].join("\n");
    const mapped = mapRulesetAddresses(text, map, "admin.rules");
    const lines = mapped.text.split("\n");
    expect(lines).toHaveLength(text.split("\n").length);
    expect(lines[2]).toBe("-A INPUT -s 198.18.10.0/24 -d 198.51.100.10/32 -p udp -m udp --dport 5060 -j ACCEPT");
    expect(lines[3]).toBe("-A INPUT -m iprange --src-range 198.18.10.10-198.18.10.20 -j ACCEPT");
    // The string the rule looks for is what the lab's traffic carries; a comment is only words.
    expect(lines[4]).toBe('-A INPUT -p udp -m string --string sip:198.51.100.10 --algo bm -m comment --comment "our PBX 81.2.9.5" -j ACCEPT');
    expect(lines[5]).toBe("-A INPUT -s 81.0.0.0/8 -j DROP");
    expect(lines[6]).toBe("-A INPUT -s 10.0.0.0/8 -j ACCEPT");
    expect(mapped.notes).toEqual([expect.stringMatching(/^admin\.rules: line 6: 81\.0\.0\.0\/8 contains the mapped 81\.2\.3\.0\/24, 81\.2\.9\.5\/32 but is wider/)]);
  });

  it("rewrites the entries of an ipset file", () => {
    const sets = "create trusted hash:net family inet\nadd trusted 192.168.1.0/25\nadd trusted 81.2.3.7 timeout 60\ncreate pbx hash:ip,port family inet\nadd pbx 81.2.9.5,udp:5060\n";
    expect(mapIpsetAddresses(sets, map, "sets").text).toBe("create trusted hash:net family inet\nadd trusted 192.0.2.0/25\nadd trusted 198.18.10.7 timeout 60\ncreate pbx hash:ip,port family inet\nadd pbx 198.51.100.10,udp:5060\n");
  });

  it("lets a scenario run the admin's ruleset as written, with his addresses, on the lab's traffic", async () => {
    const directory = scratchDirectory("address-map");
    writeFileSync(
      join(directory, "admin.rules"),
      [
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":FORWARD ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        "-A INPUT -s 81.2.3.0/24 -d 81.2.9.5/32 -p udp --dport 5060 -j ACCEPT",
        "-A INPUT -d 81.2.9.5/32 -p udp --dport 5060 -j DROP",
        "COMMIT",
        "",
      ].join("\n"),
    );
    const yaml = (addressMap: string) => `name: mapped
description: an office on the admin's real network, a scanner from anywhere else
durationSeconds: 20
firewall:
  ruleset: admin.rules
${addressMap}
pbx:
  accounts:
    - users: 200-201
      password: "pw-{user}-Str0ng"
hosts:
  office:
    kind: nat
    public: 198.18.10.1
    lan: 192.0.2.0/24
  scanner:
    kind: addresses
    addresses: [198.18.70.7]
traffic:
  - name: phones
    kind: phones
    host: office
    count: 2
    accounts: 200-201
  - name: scan
    kind: register-flood
    host: scanner
    ratePps: 5
    durationSeconds: 5
expect:
  - source: phones
    registered: all
  - source: scan
    delivered: 0
`;
    writeFileSync(join(directory, "mapped.yaml"), yaml('  addressMap:\n    81.2.3.0/24: 198.18.10.0/24\n    81.2.9.5/32: 198.51.100.10/32'));
    const report = await runScenario(loadScenario(join(directory, "mapped.yaml"), null), new ModelEngine());
    expect(report.expectations.map((expectation) => expectation.passed)).toEqual([true, true]);
    expect(report.warnings ?? []).toEqual([]);
    // Without the map his rules meet no lab packet, and the run says so rule by rule.
    writeFileSync(join(directory, "unmapped.yaml"), yaml(""));
    const unmapped = await runScenario(loadScenario(join(directory, "unmapped.yaml"), null), new ModelEngine());
    expect(unmapped.passed).toBe(false);
    expect(unmapped.warnings).toEqual([expect.stringMatching(/admin\.rules: line 5: -s 81\.2\.3\.0\/24 matches no address.*firewall\.addressMap/), expect.stringMatching(/line 5: -d 81\.2\.9\.5\/32/), expect.stringMatching(/line 6: -d 81\.2\.9\.5\/32/)]);
    writeFileSync(join(directory, "bad.yaml"), yaml("  addressMap:\n    81.2.3.0/24: 198.18.10.0/25"));
    expect(() => loadScenario(join(directory, "bad.yaml"), null)).toThrow(ScenarioError);
    expect(() => loadScenario(join(directory, "bad.yaml"), null)).toThrow(/bad\.yaml:\d+: firewall\.addressMap\.81\.2\.3\.0\/24: 81\.2\.3\.0\/24 maps onto 198\.18\.10\.0\/25: a real network maps onto a lab network of the same size/);
  });
});
