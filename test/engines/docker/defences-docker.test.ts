import { describe, expect, it } from "vitest";
import { compareEngines } from "../../../src/engines/compare-engines.js";
import { DockerEngine } from "../../../src/engines/docker/docker-engine.js";
import { defenceNames, scenarioWithDefence } from "../../../src/compare/defences.js";
import { loadScenario } from "../../../src/scenario/load-scenario.js";
import type { RunResult } from "../../../src/verdict/run-result.js";
import { attackOutcomes } from "../../../src/verdict/attack-outcome.js";
import { computeOutcomes } from "../../../src/verdict/outcomes.js";
import { dockerAvailable } from "../../helpers/docker-available.js";
import { ensureBuild } from "../../helpers/ensure-build.js";

const available = await dockerAvailable("each attack shape under each defence");

const base = loadScenario("test/fixtures/defences/attack-shapes.yaml", null);

/** Per attacking source: the accounts it found the password of, its calls into the dialplan, the extensions it confirmed. */
function wins(scenario: typeof base, result: RunResult) {
  return Object.fromEntries(
    attackOutcomes(scenario, computeOutcomes(result), result.securityEvents).map((attack) => [
      attack.source,
      { passwords: attack.passwordsFound.map((find) => find.account), calls: attack.callsReached.length, extensions: attack.extensionsFound.length, reached: attack.requestsReachedPbx },
    ]),
  );
}

// What each defence leaves each attack shape (the model's answer, which the lab must give too): the
// model's sources, and the real tools (svwar, svcrack in the lab; their twins in the model).
const shapes = { "weak-password": ["210"], "deep-password": [], "toll-fraud": ["250"], "iax2-guesser": ["230"], "real-weak-password": ["212"], "real-deep-password": [] };
const found: Record<(typeof defenceNames)[number], Record<string, string[]>> = {
  kernel: shapes,
  fail2ban: shapes,
  "kernel+fail2ban": shapes,
  responsive: { ...shapes, "toll-fraud": [] },
  none: { ...shapes, "deep-password": ["211"], "real-deep-password": ["213"] },
};
/** The real tools send about 185 requests a second, the model's sources 5. */
const REAL_TOOLS = new Set(["real-walker", "real-weak-password", "real-deep-password"]);

describe.runIf(available)("every attack shape of the built-ins under every defence: the same outcome in the lab (real Asterisk, netfilter, fail2ban) as in the model", () => {
  it.each(defenceNames.map((defence) => ({ defence })))(
    "$defence",
    async ({ defence }) => {
      ensureBuild();
      const scenario = scenarioWithDefence(base, defence);
      const { real, model } = await compareEngines(scenario, new DockerEngine());
      const inLab = wins(scenario, real);
      const inModel = wins(scenario, model);
      const both = JSON.stringify({ inLab, inModel });
      for (const [source, accounts] of Object.entries(found[defence])) {
        expect(inModel[source]!.passwords, `${source} in the model: ${both}`).toEqual(accounts);
        expect(inLab[source]!.passwords, `${source} in the lab: ${both}`).toEqual(accounts);
      }
      for (const source of Object.keys(inModel)) {
        expect(inLab[source]!.calls, both).toBe(inModel[source]!.calls);
        expect(inLab[source]!.extensions, both).toBe(inModel[source]!.extensions);
        // fail2ban's ban lands 0.16 to 0.55 s after its tipping line in the lab on a quiet machine, 0.45 s in the model: a request
        // or two either way at 5 a second, up to 60 at a real tool's 185 (the kernel's limit, in front of fail2ban, stops it first).
        // A busy machine delays the daemon, never hastens it: 176 against 94 in a CI rehearsal with the model half running beside
        // this file (a ban about 0.9 s after its line), 200 in one with more tests beside it (1.0 s); a real tool may get up to
        // 0.75 s of delay past the model's, 140 more.
        const fewerSlack = defence === "fail2ban" && REAL_TOOLS.has(source) ? 60 : defence.includes("fail2ban") ? 3 : REAL_TOOLS.has(source) ? 2 : 1;
        const moreSlack = defence === "fail2ban" && REAL_TOOLS.has(source) ? 140 : fewerSlack;
        const more = inLab[source]!.reached - inModel[source]!.reached;
        expect(more, `${source}: ${both}`).toBeLessThanOrEqual(moreSlack);
        expect(-more, `${source}: ${both}`).toBeLessThanOrEqual(fewerSlack);
      }
      expect(inModel["toll-fraud"]!.calls).toBe(found[defence]["toll-fraud"]!.length);
      // The figures the README quotes: requests each attacker got to the PBX, lab against model.
      console.log(`${defence}: ${Object.keys(inModel).map((source) => `${source} ${inLab[source]!.reached}/${inModel[source]!.reached}`).join(", ")}`);
    },
    5 * 60_000,
  );
});
