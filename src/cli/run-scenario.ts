import type { Engine, RunOptions } from "../engines/engine.js";
import { DockerEngine } from "../engines/docker/docker-engine.js";
import { ModelEngine } from "../engines/model/model-engine.js";
import { terminalProgress } from "./image-progress.js";
import type { RunReport } from "../report/run-report.js";
import type { Scenario } from "../scenario/scenario.js";
import { checkExpectations } from "../verdict/expectations.js";
import { computeOutcomes } from "../verdict/outcomes.js";
import { attackOutcomes } from "../verdict/attack-outcome.js";
import { CommandLineError } from "./exit-codes.js";
import { checkPacketBudget } from "../scenario/estimate-packets.js";
import { looksLikeNft } from "../firewall/nft/parse-nft.js";
import { parseRuleset } from "../firewall/parse-ruleset.js";
import { rulesMatchingNothing } from "../firewall/rules-matching-nothing.js";
import type { RunProgress } from "../engines/engine.js";

export const engineNames = ["model", "docker"] as const;

export function engineNamed(name: string): Engine {
  if (name === "model") return new ModelEngine();
  if (name === "docker") return new DockerEngine(terminalProgress());
  throw new CommandLineError(`unknown engine "${name}": choose one of ${engineNames.join(", ")}`);
}

/**
 * One scenario variant through an engine, then outcomes and expectations: the
 * whole pipeline. A run estimated over the packet budget (memory when it
 * keeps a record per packet, time when it streams them) is refused before it
 * starts; on a terminal a model run shows its progress on stderr.
 */
export async function runScenario(scenario: Scenario, engine: Engine, options: RunOptions & { maxPackets?: number } = {}): Promise<RunReport> {
  // A model run keeps its verdicts unless told not to (as model-engine decides); a docker run joins every packet.
  const keepsPackets = engine.name !== "model" || options.keepVerdicts !== false || options.keepPackets === true;
  checkPacketBudget(scenario, options.maxPackets, keepsPackets);
  const progress = options.onProgress ?? (engine.name === "model" ? terminalRunProgress(scenario.name) : undefined);
  const result = await engine.run(scenario, { ...options, ...(progress ? { onProgress: progress } : {}) });
  if (progress) progress({ virtualUs: result.durationUs, durationUs: result.durationUs, packets: -1 });
  const outcomes = computeOutcomes(result);
  const expectations = checkExpectations(scenario, outcomes);
  const firewall = `${scenario.firewall.kind === "policy" ? `policy ${scenario.firewall.policyName}` : `ruleset ${scenario.firewall.path}${scenario.firewall.ipv6 ? ` and ip6tables ${scenario.firewall.ipv6.path}` : ""}`}${scenario.fail2ban ? ", with fail2ban's asterisk jail" : ""}`;
  const warnings =
    scenario.firewall.kind === "ruleset" && !looksLikeNft(scenario.firewall.text)
      ? [...(scenario.firewall.mappingNotes ?? []), ...rulesMatchingNothing(parseRuleset(scenario.firewall.text, scenario.firewall.path), scenario)]
      : [];
  return { result, firewall, outcomes, attacks: attackOutcomes(scenario, outcomes, result.securityEvents, result.engine, result.requestsWritten), expectations, passed: expectations.every((expectation) => expectation.passed), scenarioFile: scenario.file, ...(warnings.length ? { warnings } : {}) };
}

/** A progress line on a terminal's stderr, at most once a second, cleared when the run ends (packets -1); nothing off a terminal. */
export function terminalRunProgress(label: string): ((progress: RunProgress) => void) | undefined {
  if (process.stderr.isTTY !== true) return undefined;
  const started = performance.now();
  let shownAt = 0;
  return ({ virtualUs, durationUs, packets }) => {
    if (packets < 0) {
      if (shownAt > 0) process.stderr.write("\r\u001b[2K");
      return;
    }
    const now = performance.now();
    if (now - started < 1000 || now - shownAt < 1000) return;
    shownAt = now;
    const share = durationUs === 0 ? 1 : virtualUs / durationUs;
    const left = share > 0 ? ((now - started) / 1000) * (1 / share - 1) : 0;
    process.stderr.write(`\r\u001b[2K${label}: ${(virtualUs / 1e6).toFixed(1)} of ${(durationUs / 1e6).toFixed(1)} s simulated, ${packets.toLocaleString("en-US")} packets judged, about ${Math.ceil(left)} s left`);
  };
}
