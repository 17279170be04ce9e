/**
 * The SARIF regions of a `proof verify --jobs N` run, found by worker threads while the main
 * thread writes the report (docs/performance.md, "Worker threads and shards"): without them, the
 * main thread alone read every file that results point into again, after the report. The judging
 * workers have ended by then, their heaps freed; region workers (`dist/regions-worker.js`,
 * src/api/regions-worker.ts) are small, start at once and end when no file is left. The main
 * thread joins them once it has nothing else to write. Every thread does its share through
 * `regionsOfFiles` (src/report/regions.ts), one file at a time, so the answers, and the
 * artifacts, are the same bytes whichever thread found them.
 */
import { Worker } from "node:worker_threads";
import { existingFile } from "../io/built-file.js";
import {
  type RegionLookup,
  type RegionRequest,
  regionLookup,
  regionsOfFiles,
  requestsByFile,
  type SourceRegion,
} from "../report/regions.js";
import { receivedError, type SentError } from "./pool-errors.js";

/** A file whose regions some thread finds: its requests, and its size in bytes. */
export interface RegionFile {
  file: string;
  requests: RegionRequest[];
  size: number;
}

/**
 * What a region worker is started with (`workerData`): the files, each as the report names it
 * with the requests of its results, and the index of the next file no thread has claimed, in
 * memory every thread shares.
 */
export interface RegionTask {
  files: { file: string; requests: RegionRequest[] }[];
  next: Int32Array;
}

/** A region worker's one message: [request key, region] pairs for the files it claimed, or the error that stopped it. */
export type RegionReply = { regions: [key: string, region: SourceRegion][] } | { regionsError: SentError };

/**
 * The files of `requests` that are `chosen` (path -> size in bytes), largest first (then in the
 * order first asked): claimed from the front, the large files start early and the small ones
 * even out the threads' ends. A request of a file not chosen has no region.
 */
export function regionFiles(
  requests: Iterable<RegionRequest>,
  chosen: ReadonlyMap<string, number>,
): RegionFile[] {
  const files: RegionFile[] = [];
  for (const [file, list] of requestsByFile(requests)) {
    const size = chosen.get(file);
    if (size !== undefined) files.push({ file, requests: list, size });
  }
  // A stable sort: files of equal size keep the order they were first asked in.
  return files.sort((a, b) => b.size - a.size);
}

/**
 * The files of a region task that the calling thread claims, one at a time, until none is left:
 * every thread that takes part (the workers and the main thread) claims from the same counter,
 * `next`, shared memory holding the index of the next file. No thread waits for another to hand
 * it work, so the workers go on while the main thread is busy writing the report.
 */
export function* claimFiles<T>(files: readonly T[], next: Int32Array): Generator<T> {
  for (let i = Atomics.add(next, 0, 1); i < files.length; i = Atomics.add(next, 0, 1)) yield files[i] as T;
}

/** Regions being found by region workers, which the main thread joins with {@link finish}. */
export interface RegionJob {
  /**
   * Finds regions in this thread too, file after file, until no file is left, then waits for the
   * workers: the answers of every thread.
   * @throws the first error that stopped a worker (any but an unreadable file), or its exit
   *   before it answered
   */
  finish(): Promise<RegionLookup>;
  /** Ends the workers that have not ended (a run that fails before {@link finish}). */
  close(): Promise<void>;
}

/** The region worker's entry point beside this module: the built bundle's only. */
export function regionWorkerFile(): string | undefined {
  // Run from the TypeScript sources (tests), there is no built worker to start.
  return existingFile(new URL("./regions-worker.js", import.meta.url));
}

/** Starts a region worker on a task (the built `dist/regions-worker.js`). */
function startRegionWorker(task: RegionTask): Worker {
  const file = regionWorkerFile();
  if (file === undefined) throw new Error("the region worker is not built");
  return new Worker(file, { workerData: task });
}

/**
 * Starts finding the regions of `files` ({@link regionFiles}) in `workers` worker threads (none
 * without files; a caller without a built worker, {@link regionWorkerFile}, asks for none): each
 * claims files from the front
 * ({@link claimFiles}) until none is left, and this thread joins in {@link RegionJob.finish}.
 * @param text how this thread reads a file once it joins: its text, or undefined when it cannot
 *   be read (its requests then have no region, as in a worker)
 * @param start starts a worker on the task (tests give threads of their own)
 */
export function startRegionJob(
  files: readonly RegionFile[],
  text: (file: string) => Promise<string | undefined>,
  workers: number,
  start: (task: RegionTask) => Worker = startRegionWorker,
): RegionJob {
  const found = new Map<string, SourceRegion>();
  const next = new Int32Array(new SharedArrayBuffer(4));
  const count = files.length === 0 ? 0 : workers;
  const task: RegionTask = { files: files.map(({ file, requests }) => ({ file, requests })), next };
  const threads = Array.from({ length: count }, () => start(task));
  const done = threads.map((worker) => answerOf(worker, found));
  // Awaited in finish; a failure before it must not count as unhandled.
  for (const d of done) d.catch(() => {});
  return {
    finish: async () => {
      await regionsOfFiles(claimFiles(files, next), text, (key, region) => found.set(key, region));
      await Promise.all(done);
      return regionLookup(found);
    },
    close: async () => {
      await Promise.all(threads.map((w) => w.terminate()));
    },
  };
}

/** Resolves once a region worker has answered for every file it claimed, its answers in `found`. */
function answerOf(worker: Worker, found: Map<string, SourceRegion>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let answered = false;
    // The answer is the worker's one message that holds regions or an error; nothing else
    // settles it.
    worker.on("message", (reply: RegionReply) => {
      if ("regionsError" in reply) {
        answered = true;
        reject(receivedError(reply.regionsError));
      } else if ("regions" in reply) {
        answered = true;
        for (const [key, region] of reply.regions) found.set(key, region);
        resolve();
      }
    });
    worker.on("error", reject);
    worker.on("exit", (code) => {
      if (!answered)
        reject(new Error(`a verify region worker thread stopped before it answered (exit ${code})`));
    });
  });
}
