import { Worker } from "node:worker_threads";
import { sweepChunk, type SettingResult } from "./sweep-chunk.js";
import { settingKey, shardOf, type TuneSetting } from "./sweep-space.js";
import type { TuneScenarioRef } from "./tune-scenarios.js";

/**
 * Spreads the settings over `workers` threads in contiguous blocks and
 * collects one result per setting, in the settings' order. With one worker
 * it runs in this thread.
 */
export async function runSweep(refs: readonly TuneScenarioRef[], settings: readonly TuneSetting[], workers: number, onProgress: (done: number) => void): Promise<SettingResult[]> {
  const results: SettingResult[] = [];
  let done = 0;
  const collect = (result: SettingResult) => {
    results.push(result);
    onProgress(++done);
  };
  if (workers <= 1) {
    await sweepChunk(refs, settings, collect);
  } else {
    const workerUrl = new URL("./sweep-worker.js", import.meta.url);
    await Promise.all(
      Array.from({ length: workers }, (_, index) => shardOf(settings, index + 1, workers))
        .filter((block) => block.length > 0)
        .map(
          (block) =>
            new Promise<void>((resolve, reject) => {
              const worker = new Worker(workerUrl, { workerData: { refs, settings: block } });
              worker.on("message", collect);
              worker.on("error", reject);
              worker.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`a tune worker exited with code ${code}`))));
            }),
        ),
    );
  }
  const order = new Map(settings.map((setting, index) => [settingKey(setting), index]));
  const position = (result: SettingResult) => order.get(settingKey(result.setting)) ?? 0;
  return results.sort((a, b) => position(a) - position(b));
}
