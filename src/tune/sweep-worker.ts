import { parentPort, workerData } from "node:worker_threads";
import { sweepChunk } from "./sweep-chunk.js";
import type { TuneSetting } from "./sweep-space.js";
import type { TuneScenarioRef } from "./tune-scenarios.js";

/** A worker thread of `slamlab tune`: its block of settings, one result message per setting. */
const { refs, settings } = workerData as { refs: TuneScenarioRef[]; settings: TuneSetting[] };
await sweepChunk(refs, settings, (result) => parentPort!.postMessage(result));
