import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DockerEngine } from "../../../src/engines/docker/docker-engine.js";
import type { RunResult } from "../../../src/engines/engine.js";
import { runModel } from "../../../src/engines/model/model-engine.js";
import { loadScenario } from "../../../src/scenario/load-scenario.js";
import { parseSip } from "../../../src/sip/sip-message.js";
import { dockerAvailable } from "../../helpers/docker-available.js";
import { ensureBuild } from "../../helpers/ensure-build.js";

const available = await dockerAvailable("real svcrack against the model's");

// A per-source rate limit that lets a few of svcrack's requests through: what it does with the
// challenges it gets (and the ones it does not) decides how many passwords it tries.
const LIMIT = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p udp --dport 5060 -m hashlimit --hashlimit-above 10/second --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name sip -j DROP\nCOMMIT\n";

function scenarioYaml(name: string, traffic: string): string {
  return [
    `name: ${name}`,
    "description: svcrack guesses 210's password behind a rate limit",
    "durationSeconds: 14",
    "firewall: { ruleset: limit.rules }",
    "pbx: { accounts: [{ users: 200-209, password: 'tools-{user}-Secret' }, { users: 210-210, password: '1950' }] }",
    "hosts: { scanner: { kind: addresses, addresses: [198.18.66.6] } }",
    "traffic:",
    `  - ${traffic}`,
    "expect: [{ source: svcrack, passwordFound: false }]",
  ].join("\n");
}

interface Shape {
  sent: number;
  delivered: number;
  guesses: number;
  guessesDelivered: number;
  spanSeconds: number;
  found: number;
  sourcePorts: number[];
}

function shapeOf(result: RunResult): Shape {
  const requests = result.verdicts.filter((verdict) => verdict.source === "svcrack" && verdict.direction === "to-pbx");
  const isGuess = (packetId: number) => parseSip(result.packets![packetId]!.subarray(28))?.header("authorization") !== undefined;
  const guesses = requests.filter((verdict) => isGuess(verdict.packetId));
  return {
    sent: requests.length,
    delivered: requests.filter((verdict) => verdict.verdict === "delivered").length,
    guesses: guesses.length,
    guessesDelivered: guesses.filter((verdict) => verdict.verdict === "delivered").length,
    spanSeconds: (requests.at(-1)!.atUs - requests[0]!.atUs) / 1e6,
    found: result.events.filter((event) => event.kind === "password-found").length,
    sourcePorts: [...new Set(requests.map((verdict) => verdict.srcPort))],
  };
}

describe.runIf(available)("svcrack: the model's register-flood against real sipvicious svcrack in the lab", () => {
  it(
    "behind a rate limit both send a bare REGISTER whenever no challenge is pending and one guess per 401 that came back: the same requests, guesses and outcome",
    async () => {
      ensureBuild();
      const directory = mkdtempSync(join(tmpdir(), "svcrack-fidelity-"));
      writeFileSync(join(directory, "limit.rules"), LIMIT);
      writeFileSync(join(directory, "real.yaml"), `${scenarioYaml("svcrack-real", "{ name: svcrack, kind: tool, tool: svcrack, host: scanner, target: '210', passwords: 1000-1999, startSeconds: 1 }")}\n`);
      // svcrack -r 1000-1999 as the model's dictionary; its pace is its 5 ms select loop (about 190 requests a second).
      const dictionary = JSON.stringify(Array.from({ length: 1000 }, (_, index) => String(1000 + index)));
      writeFileSync(
        join(directory, "model.yaml"),
        `${scenarioYaml("svcrack-model", `{ name: svcrack, kind: register-flood, mode: svcrack, host: scanner, extensions: '210-210', passwords: ${dictionary}, ratePps: 185, startSeconds: 1, durationSeconds: 13 }`)}\n`,
      );
      const real = shapeOf(await new DockerEngine().run(loadScenario(join(directory, "real.yaml"), null), { keepPackets: true }));
      const model = shapeOf(runModel(loadScenario(join(directory, "model.yaml"), null), { keepPackets: true }));
      const near = (a: number, b: number, share: number) => Math.abs(a - b) <= share * Math.max(a, b);
      const shapes = JSON.stringify({ real, model });
      // The figures the README quotes.
      for (const [who, shape] of [["real svcrack", real], ["the model's svcrack", model]] as const) {
        console.log(`${who}: ${shape.sent} requests in ${shape.spanSeconds.toFixed(1)} s (${Math.round(shape.sent / shape.spanSeconds)} a second), ${shape.guesses} guesses, ${shape.guessesDelivered} of them delivered, ${shape.found} passwords found`);
      }
      // svcrack binds 5060 (its -P default) where nothing else on its address does, as the model's flood sends from it.
      expect(real.sourcePorts).toEqual([5060]);
      expect(model.sourcePorts).toEqual([5060]);
      // Real svcrack sends until 13 s pass (about 2,400 requests); most are bare: a guess only answers a 401 that got back.
      expect(real.sent, shapes).toBeGreaterThan(1500);
      expect(real.guesses, shapes).toBeLessThan(real.sent / 5);
      expect(near(model.sent, real.sent, 0.1), shapes).toBe(true);
      expect(near(model.delivered, real.delivered, 0.15), shapes).toBe(true);
      expect(near(model.guesses, real.guesses, 0.15), shapes).toBe(true);
      expect(Math.abs(model.guessesDelivered - real.guessesDelivered), shapes).toBeLessThanOrEqual(3);
      expect(near(model.spanSeconds, real.spanSeconds, 0.05), shapes).toBe(true);
      // Nearly every guess follows its bare REGISTER within 6 ms and finds the bucket empty: the password (guess 951) is never tried.
      expect([real.found, model.found], shapes).toEqual([0, 0]);
    },
    5 * 60_000,
  );
});
