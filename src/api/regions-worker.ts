/**
 * A region worker of `proof verify --jobs N` (src/api/pool-regions.ts): started with a
 * {@link RegionTask}, it claims the task's files one at a time from the counter it shares with
 * the other threads, finds the SARIF regions their requests ask for, sends them in one message
 * and ends. A file that cannot be read (gone, or grown past the trace size limit since it was
 * judged) has no region, as when the main thread reads it itself.
 */
import { parentPort, workerData } from "node:worker_threads";
import { readSource } from "../io/artifacts.js";
import { regionsOfFiles, type SourceRegion } from "../report/regions.js";
import { sendError } from "./pool-errors.js";
import { claimFiles, type RegionReply, type RegionTask } from "./pool-regions.js";

if (!parentPort) throw new Error("regions-worker runs as a worker thread");
const port = parentPort;
const task = workerData as RegionTask;

async function answer(): Promise<RegionReply> {
  const found: [string, SourceRegion][] = [];
  try {
    await regionsOfFiles(claimFiles(task.files, task.next), readSource, (key, region) =>
      found.push([key, region]),
    );
  } catch (err) {
    return { regionsError: sendError(err) };
  }
  return { regions: found };
}

port.postMessage(await answer());
port.close();
