import { parentPort } from "node:worker_threads";
import { ModelEngine } from "../engines/model/model-engine.js";
import { loadScenario } from "../scenario/load-scenario.js";
import { exitCodeFor } from "./exit-codes.js";
import { runScenario } from "./run-scenario.js";
import type { ScenarioJob, ScenarioJobResult } from "./parallel-scenario-runs.js";

/** A worker thread of `slamlab test --workers`: runs each scenario variant it is sent on the model engine and posts back its report or its error. */
const engine = new ModelEngine();
parentPort!.on("message", async (job: ScenarioJob) => {
  let answer: ScenarioJobResult;
  try {
    answer = { index: job.index, report: await runScenario(loadScenario(job.file, job.variant), engine, { keepVerdicts: false, maxPackets: job.maxPackets }) };
  } catch (error) {
    answer = { index: job.index, error: { exitCode: exitCodeFor(error), code: String((error as { code?: unknown }).code ?? "BAD_INPUT"), message: (error as Error).message, stack: (error as Error).stack ?? "" } };
  }
  parentPort!.postMessage(answer);
});
