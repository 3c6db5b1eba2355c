import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runModel } from "../../src/engines/model/model-engine.js";
import { computeOutcomes } from "../../src/verdict/outcomes.js";
import { packageRoot } from "../../src/package-root.js";
import { scenarioOf } from "../helpers/scenario.js";

/**
 * javapipe's widely copied anti-DDoS rules (test/fixtures/admin-rulesets,
 * PROVENANCE.md) in front of a PBX whose phones register over TCP and TLS:
 * the mangle table drops SYNs without an MSS option or with one under 536
 * (`-m tcpmss ! --mss 536:65535`), new connections that do not start with a
 * SYN, and flag combinations no stack sends; Linux's SYNs carry MSS 1460, so
 * every phone registers. The matches' kernel checks are in
 * test/engines/model/netfilter/header-matches.test.ts.
 */
const rulesetText = readFileSync(join(packageRoot(), "test", "fixtures", "admin-rulesets", "javapipe-anti-ddos.rules"), "utf8");

describe("javapipe's anti-DDoS rules on the model engine", () => {
  it("lets phones over TCP and TLS register, their handshakes passing the MSS, SYN and flag checks, and counts a scan's new connections", () => {
    const scenario = scenarioOf(
      {
        name: "javapipe",
        description: "phones over TCP and TLS behind javapipe's rules",
        durationSeconds: 6,
        pbx: { address: "198.51.100.10", accounts: [{ users: "200-209", password: "pbx-{user}-Str0ng" }] },
        hosts: { office: { kind: "addresses", addresses: ["198.18.20.1", "198.18.20.2", "198.18.20.3"] }, tls: { kind: "addresses", addresses: ["198.18.20.5"] }, bot: { kind: "addresses", addresses: ["198.18.66.6"] } },
        traffic: [
          { name: "office", kind: "phones", host: "office", transport: "tcp", count: 3, accounts: "200-202", startSeconds: 0.5, spreadSeconds: 1 },
          { name: "tls-phones", kind: "phones", host: "tls", transport: "tls", count: 1, accounts: "205-205", startSeconds: 0.5 },
          // A new connection per request: each SYN meets the MSS check and the NEW-connection limit.
          { name: "scan", kind: "register-flood", host: "bot", mode: "svwar", transport: "tcp", sourcePort: "random", ratePps: 10, startSeconds: 1, durationSeconds: 3, giveUpSeconds: 0 },
        ],
      },
      { rulesetText },
    );
    const result = runModel(scenario, { keepVerdicts: true });
    const outcomes = computeOutcomes(result);
    const outcome = (source: string) => outcomes.find((candidate) => candidate.source === source)!;
    expect([outcome("office").registeredAgents, outcome("tls-phones").registeredAgents]).toEqual([3, 1]);
    // Nothing dropped: every SYN carried MSS 1460, every later segment belonged to its connection, and the scan's
    // 30 new connections are far under 60 a second (javapipe's limits do not stop a slow scan).
    expect(result.verdicts.filter((verdict) => verdict.verdict === "dropped")).toEqual([]);
    expect(outcome("scan").delivered).toBeGreaterThan(60);
  });
});
