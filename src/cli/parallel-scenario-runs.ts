import { Worker } from "node:worker_threads";
import type { RunReport } from "../report/run-report.js";

/** One scenario variant to run, by its place in the suite. */
export interface ScenarioJob {
  readonly index: number;
  readonly file: string;
  readonly variant: string | null;
  readonly maxPackets: number | undefined;
}

/** What a worker sends back: the run's report, or the error that stopped it (with the exit code it maps to). */
export type ScenarioJobResult =
  | { readonly index: number; readonly report: RunReport }
  | { readonly index: number; readonly error: { readonly exitCode: number; readonly code: string; readonly message: string; readonly stack: string } };

/**
 * Runs independent model runs on `workers` threads, each thread taking the
 * next job when it finishes one; `onResult` gets each as it finishes (the
 * caller puts them back in order). A throw from `onResult` stops the runs.
 */
export async function runScenarioJobs(jobs: readonly ScenarioJob[], workers: number, onResult: (result: ScenarioJobResult) => void): Promise<void> {
  let nextToSend = 0;
  const url = new URL("./scenario-run-worker.js", import.meta.url);
  const threads = Array.from({ length: Math.min(workers, jobs.length) }, () => new Worker(url));
  try {
    await Promise.all(
      threads.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const sendNext = () => {
              if (nextToSend >= jobs.length) resolve();
              else worker.postMessage(jobs[nextToSend++]);
            };
            worker.on("message", (result: ScenarioJobResult) => {
              try {
                onResult(result);
                sendNext();
              } catch (error) {
                reject(error);
              }
            });
            worker.on("error", reject);
            worker.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`a scenario worker exited with code ${code}`))));
            worker.once("online", sendNext);
          }),
      ),
    );
  } finally {
    await Promise.all(threads.map((worker) => worker.terminate()));
  }
}
