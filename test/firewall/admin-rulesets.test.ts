import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { dockerRuntime } from "../../src/engines/docker/docker-runtime.js";
import { runFirewallScript } from "../../src/engines/docker/run-firewall-script.js";
import { defaultKernelSettings } from "../../src/engines/model/kernel-settings.js";
import { firewallState } from "../../src/engines/model/netfilter/firewall-state.js";
import { compileFirewall } from "../../src/engines/model/netfilter/interpreter.js";
import { scriptFailureError } from "../../src/firewall/import-firewall.js";
import { parseRuleset } from "../../src/firewall/parse-ruleset.js";
import { addressMappings, mapRulesetAddresses } from "../../src/firewall/address-map.js";
import { loadScenario } from "../../src/scenario/load-scenario.js";
import type { RulesetError } from "../../src/firewall/ruleset.js";
import { packageRoot } from "../../src/package-root.js";
import type { OracleSend } from "../helpers/kernel-oracle.js";
import { judgeRouteInKernel, judgeRouteInModel, kernelOracleHere, kernelOracleProblem } from "../helpers/route-oracle.js";

/**
 * Firewall scripts in the shapes admins publish (test/fixtures/admin-rulesets,
 * PROVENANCE.md says where each shape comes from): each is imported the way a
 * user would, in a lab container, then the model must run every rule of it
 * and judge a batch of SIP datagrams exactly as the kernel does.
 */
const directory = join(packageRoot(), "test", "fixtures", "admin-rulesets");
const scripts = [...readdirSync(directory).filter((name) => name.endsWith(".sh")).sort().map((name) => join(directory, name)), join(packageRoot(), "examples", "reference-2010", "firewall.sh")];
const addressMaps: Record<string, Readonly<Record<string, string>> | undefined> = {
  "examples/reference-2010/firewall.sh": loadScenario(join(packageRoot(), "examples", "reference-2010", "office.yaml"), null).addressMap,
};
const requireDocker = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
const docker = await dockerRuntime().then(
  () => true,
  (error: Error) => {
    if (!requireDocker) console.log(`skipping the published-shape rulesets: importing a script needs Docker (${error.message.split("\n")[0]})`);
    return false;
  },
);
if (docker && !kernelOracleHere && !requireDocker) console.log(`the published-shape rulesets are imported but not judged against the kernel: ${kernelOracleProblem}`);

const sip = (method: string, userAgent: string) => `${method} sip:198.51.100.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bK1\r\nCSeq: 1 ${method}\r\nUser-Agent: ${userAgent}\r\n\r\n`;
const sends: OracleSend[] = [
  { src: "198.18.10.5", payload: sip("REGISTER", "Yealink SIP-T46U 66.86.0.15"), at: 0 },
  { src: "198.19.4.20", payload: sip("INVITE", "Asterisk PBX 22.1.0"), at: 0.02 },
  ...[0, 1, 2].map((index) => ({ src: "198.18.70.7", sport: 5070 + index, payload: sip(index ? "REGISTER" : "OPTIONS", "friendly-scanner"), at: 0.04 + index * 0.02 })),
  // 37 ms apart: no send falls within a few ms of a 5/s token's edge, where the kernel tick's phase would decide.
  ...Array.from({ length: 24 }, (_, index) => ({ src: "198.18.70.8", sport: 6000 + index, payload: sip("REGISTER", "PolycomVVX-VVX_400-UA/5.9"), at: 0.1 + index * 0.037 })),
  { src: "198.18.66.6", payload: sip("REGISTER", "Linphone/5.2"), at: 1.1 },
  { src: "198.18.66.9", payload: sip("REGISTER", "Linphone/5.2"), at: 1.12 },
  { src: "198.18.70.9", payload: sip("SUBSCRIBE", "Yealink SIP-T46U"), at: 1.14 },
  { src: "198.18.70.10", dport: 5080, payload: sip("REGISTER", "sipcli/v1.8"), at: 1.16 },
  { src: "198.18.70.11", payload: sip("REGISTER", "SIPVICIOUS"), at: 1.18 },
];

describe.runIf(docker)("published-shape rulesets: imported, run by the model, judged as the kernel judges them", () => {
  for (const path of scripts) {
    const script = relative(packageRoot(), path);
    it(
      script,
      async () => {
        const run = await runFirewallScript(path);
        expect(scriptFailureError(path, run.failures, run.stderr), run.stderr).toBeNull();
        // The worked example names the admin's real addresses: its scenario's map brings them into the lab.
        const rulesText = mapRulesetAddresses(run.rulesetText, addressMappings(addressMaps[script] ?? {}), script).text;
        const ruleset = parseRuleset(rulesText, `${script} (imported)`);
        const sets = /^create /m.test(run.ipsetText) ? run.ipsetText : undefined;
        const problems: RulesetError[] = [];
        compileFirewall(ruleset, firewallState(defaultKernelSettings, [], sets === undefined ? undefined : { path: "sets", text: sets }), problems);
        expect(problems.map((problem) => problem.message)).toEqual([]);
        const model = judgeRouteInModel(rulesText, sends, [], sets);
        // Something is dropped and something gets through, or the batch tests nothing of the ruleset.
        expect(model.delivered).toContain(true);
        expect(model.delivered).toContain(false);
        if (kernelOracleHere || requireDocker) {
          const kernel = judgeRouteInKernel(rulesText, sends, [], sets, true);
          expect(model.delivered).toEqual(kernel.delivered);
          // The counters on the way in. OUTPUT and POSTROUTING also count the ICMP errors REJECT sends back, which the model does not make.
          const inbound = Object.keys(kernel.counted).filter((key) => !/:(OUTPUT|POSTROUTING):/.test(key));
          expect(Object.fromEntries(inbound.map((key) => [key, model.counted[key] ?? -1]))).toEqual(Object.fromEntries(inbound.map((key) => [key, kernel.counted[key]])));
        }
      },
      120_000,
    );
  }
});
