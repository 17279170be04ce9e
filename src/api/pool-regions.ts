/**
 * The worker threads of `proof verify --jobs N` once every trace is judged: idle until the run
 * ends, they find the SARIF regions of its results (src/report/regions.ts) while this thread
 * writes the report, and this thread joins them once it has nothing else to write
 * (docs/performance.md, "Worker threads and shards"). Without them, this thread alone read every
 * file that results point into again, after the report. Every thread does its share through
 * `regionsOfFiles` (src/report/regions.ts), one file at a time, so the answers, and the
 * artifacts, are the same bytes whichever thread found them.
 */
import type { Worker } from "node:worker_threads";
import {
  type RegionLookup,
  type RegionRequest,
  regionLookup,
  regionsOfFiles,
  requestsByFile,
  type SourceRegion,
} from "../report/regions.js";
import type { RegionTask, WorkerReply, WorkerTask } from "./pool.js";
import { receivedError } from "./pool-errors.js";

/** A file whose regions some thread finds: its requests, and its size in bytes. */
export interface RegionFile {
  file: string;
  requests: RegionRequest[];
  size: number;
}

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

/** Regions being found by the workers, which this thread joins with {@link finish}. */
export interface RegionJob {
  /**
   * Finds regions in this thread too, file after file, until no file is left, then waits for the
   * workers: the answers of every thread.
   * @throws the first error that stopped a worker (any but an unreadable file), or its exit
   */
  finish(): Promise<RegionLookup>;
}

/**
 * The files of a region task that the calling thread claims, one at a time, until none is left:
 * every thread that takes part (the workers and this one) claims from the same counter, `next`,
 * shared memory holding the index of the next file. No thread waits for another to be handed
 * work, so the workers go on while this thread is busy writing the report.
 */
export function* claimFiles<T>(files: readonly T[], next: Int32Array): Generator<T> {
  for (let i = Atomics.add(next, 0, 1); i < files.length; i = Atomics.add(next, 0, 1)) yield files[i] as T;
}

/**
 * The pool's workers, handed over by src/api/pool.ts judgeInPool once every file is judged.
 * Unreferenced while idle: a run that forgets to {@link close} them still exits.
 */
export class RegionWorkers {
  constructor(private readonly workers: readonly Worker[]) {
    for (const worker of workers) worker.unref();
  }

  /**
   * Starts finding the regions of `files` ({@link regionFiles}): every worker claims files from
   * the front ({@link claimFiles}) until none is left, and this thread joins in
   * {@link RegionJob.finish}.
   * @param text how this thread reads a file once it joins: its text, or undefined when it cannot
   *   be read (its requests then have no region, as in a worker)
   */
  start(files: readonly RegionFile[], text: (file: string) => Promise<string | undefined>): RegionJob {
    const found = new Map<string, SourceRegion>();
    const next = new Int32Array(new SharedArrayBuffer(4));
    const task: RegionTask = { files: files.map(({ file, requests }) => ({ file, requests })), next };
    const done = files.length === 0 ? [] : this.workers.map((worker) => this.run(worker, task, found));
    // Awaited in finish; a failure before it must not count as unhandled.
    for (const d of done) d.catch(() => {});
    return {
      finish: async () => {
        await regionsOfFiles(claimFiles(files, next), text, (key, region) => found.set(key, region));
        await Promise.all(done);
        return regionLookup(found);
      },
    };
  }

  /** Gives a worker the task; resolves once it has answered for every file it claimed. */
  private run(worker: Worker, task: RegionTask, found: Map<string, SourceRegion>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onMessage = (reply: WorkerReply): void => {
        if ("regionsError" in reply) settle(receivedError(reply.regionsError));
        else if ("regions" in reply) {
          for (const [key, region] of reply.regions) found.set(key, region);
          settle();
        }
      };
      const onError = (err: Error): void => settle(err);
      const onExit = (code: number): void =>
        settle(new Error(`a verify worker thread stopped early (exit ${code})`));
      const settle = (err?: Error): void => {
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        worker.unref();
        if (err) reject(err);
        else resolve();
      };
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      // Referenced while it works: an unreferenced worker's answer would not keep the process
      // alive to receive it.
      worker.ref();
      worker.postMessage({ regions: task } satisfies WorkerTask);
    });
  }

  /** Ends the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
