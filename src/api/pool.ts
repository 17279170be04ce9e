/**
 * The worker pool of `proof verify --jobs N`: trace files are handed out one at a time to worker
 * threads (src/api/verify-worker.ts, `dist/verify-worker.js` in the bundle), each of which reads
 * and judges a whole file and sends its {@link JudgedCase}s back. Results are given out in file
 * order, whatever order the workers finish in, so a run with N threads writes the same bytes as
 * one with a single thread. Errors travel back as data and are raised when their file's turn
 * comes: the first bad file in file order fails the run, as in one thread.
 */
import { Worker } from "node:worker_threads";
import { ProofError, ProofErrors, type SourceLocation } from "../errors.js";
import { existingFile } from "../io/built-file.js";
import type { FormatName } from "../trace/model.js";
import type { CoverageReport } from "../verify/coverage.js";
import type { JudgedCase, JudgeSetup, SeenTraces, ShardSpec } from "./judged.js";

/**
 * Fewest trace files per worker thread. Starting a thread costs about 150 ms of CPU (loading the
 * engine and compiling the policies again) and a typical trace file takes 1 to 2 ms to judge,
 * so a thread with fewer files costs more than it saves. With fewer than twice this many files
 * a run stays in one thread (docs/performance.md, "Worker threads and shards").
 */
export const MIN_FILES_PER_WORKER = 128;

/**
 * Files handed to a worker ahead of the one it judges: it starts the next at once instead of
 * waiting for this thread, which is busy gathering results, to answer.
 */
const IN_FLIGHT = 3;

/** The worker's entry point beside this module: the built bundle's only. */
function workerFile(): string | undefined {
  // Run from the TypeScript sources (tests), there is no built worker to start.
  return existingFile(new URL("./verify-worker.js", import.meta.url));
}

/**
 * How many worker threads a run over `files` trace files uses with `--jobs jobs`: none (judge in
 * this thread) for one job, too few files for two threads, or without a built worker.
 */
export function workerCount(jobs: number, files: number): number {
  const n = Math.min(jobs, Math.floor(files / MIN_FILES_PER_WORKER));
  return n >= 2 && workerFile() !== undefined ? n : 0;
}

/** A trace file to judge; `ordinal` is its place in the run's file order. */
export interface PoolFile {
  ordinal: number;
  root: number;
  path: string;
  rel: string;
}

/** What a worker is started with (`workerData`). */
export interface WorkerInit {
  setup: JudgeSetup;
  format: FormatName | "auto";
  shard?: ShardSpec;
}

/** An error sent from a worker: a ProofError's fields, or a system error's message and code. */
export interface SentError {
  proof?: {
    code: string;
    message: string;
    category: ProofError["category"];
    hint?: string;
    location?: SourceLocation;
  }[];
  omitted?: number;
  message: string;
  errno?: string;
}

/** Messages from a worker. */
export type WorkerReply =
  /**
   * Judged cases of a file, in order, in batches (see verify-worker.ts BATCH_TRACES): `more` is
   * true until the file's last batch, so a file of many traces never travels as one message.
   */
  | { ordinal: number; cases: JudgedCase[]; seen: string[]; more: boolean }
  | { ordinal: number; error: SentError }
  | { coverage: CoverageReport | null };

/** Messages to a worker: a file to judge, or the end of the work. */
export type WorkerTask = PoolFile | { done: true };

/** An error as data, for postMessage. */
export function sendError(err: unknown): SentError {
  if (err instanceof ProofError) {
    const all = err instanceof ProofErrors ? err.errors : [err];
    return {
      proof: all.map((e) => ({
        code: e.code,
        message: e.message,
        category: e.category,
        ...(e.hint ? { hint: e.hint } : {}),
        ...(e.location ? { location: e.location } : {}),
      })),
      ...(err instanceof ProofErrors ? { omitted: err.omitted } : {}),
      message: err.message,
    };
  }
  const code = (err as NodeJS.ErrnoException)?.code;
  return { message: err instanceof Error ? err.message : String(err), ...(code ? { errno: code } : {}) };
}

/** The error a worker sent, as it was thrown there. */
function receivedError(sent: SentError): Error {
  if (sent.proof) {
    const all = sent.proof.map(
      (p) =>
        new ProofError(p.code, p.message, {
          category: p.category,
          ...(p.hint ? { hint: p.hint } : {}),
          ...(p.location ? { location: p.location } : {}),
        }),
    );
    return all.length === 1 && sent.omitted === undefined
      ? (all[0] as ProofError)
      : new ProofErrors(all, sent.omitted ?? 0);
  }
  const err = new Error(sent.message) as NodeJS.ErrnoException;
  if (sent.errno) err.code = sent.errno;
  return err;
}

/**
 * Judges `files` in `threads` worker threads and yields every judged case in file order.
 * `coverage` receives each worker's coverage document once all files are judged; `stats.seen`
 * gets every trace read, judged or not (a shard judges only its own), in file order.
 * @throws the first error in file order (a bad trace is a located ProofError, exit 6).
 */
export async function* judgeInPool(
  files: readonly PoolFile[],
  threads: number,
  init: WorkerInit,
  coverage: CoverageReport[],
  stats: { seen: SeenTraces },
): AsyncGenerator<JudgedCase> {
  const file = workerFile();
  if (file === undefined) throw new Error("the verify worker is not built");
  /** Batches received of each file not yet gathered, and whether its last batch came. */
  const results = new Map<
    number,
    { batches: { cases: JudgedCase[]; seen: string[] }[]; done: boolean } | Error
  >();
  let next = 0;
  /** Files whose results this thread has taken, in file order. */
  let gathered = 0;
  // Wide enough that one long file (a JSON Lines file of thousands of traces) does not idle the
  // other threads; results held meanwhile are small (the decisions the report keeps, and lines).
  const window = 1024;
  const givers: (() => void)[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  const workers: Worker[] = [];
  const finished: Promise<void>[] = [];
  for (let i = 0; i < threads; i++) {
    const worker = new Worker(file, { workerData: init });
    workers.push(worker);
    let outstanding = 0;
    let ended = false;
    /** Keeps the worker IN_FLIGHT files ahead; ends it once it has judged its last one. */
    const give = (): void => {
      // Bounded by what this thread has gathered: results of later files wait in memory for an
      // earlier one, so a slow file must not let the others run far ahead.
      while (outstanding < IN_FLIGHT && next < files.length && next < gathered + window) {
        worker.postMessage(files[next] as PoolFile);
        next++;
        outstanding++;
      }
      if (outstanding === 0 && next >= files.length && !ended) {
        ended = true;
        worker.postMessage({ done: true });
      }
    };
    finished.push(
      new Promise<void>((resolve) => {
        worker.on("message", (reply: WorkerReply) => {
          if ("coverage" in reply) {
            if (reply.coverage) coverage.push(reply.coverage);
            resolve();
            return;
          }
          if ("error" in reply) {
            outstanding--;
            results.set(reply.ordinal, receivedError(reply.error));
            notify();
            give();
            return;
          }
          let entry = results.get(reply.ordinal);
          if (entry instanceof Error) return;
          if (!entry) {
            entry = { batches: [], done: false };
            results.set(reply.ordinal, entry);
          }
          entry.batches.push({ cases: reply.cases, seen: reply.seen });
          if (!reply.more) {
            entry.done = true;
            outstanding--;
            give();
          }
          notify();
        });
        worker.on("error", (err) => {
          failure ??= err;
          notify();
          resolve();
        });
        worker.on("exit", (code) => {
          // A worker that stops before it was told to leaves files unjudged: the run must fail,
          // not wait for them.
          if (!ended) failure ??= new Error(`a verify worker thread stopped early (exit ${code})`);
          notify();
          resolve();
        });
      }),
    );
    givers.push(give);
    give();
  }
  try {
    for (let ordinal = 0; ordinal < files.length; ordinal++) {
      // The file's batches are taken as they come: the cases of a long file are written while
      // its worker still judges the rest.
      for (;;) {
        const got = results.get(ordinal);
        if (got instanceof Error) throw got;
        const batch = got?.batches.shift();
        if (batch) {
          for (const key of batch.seen) stats.seen.add(key);
          yield* batch.cases;
          continue;
        }
        if (got?.done) break;
        if (failure) throw failure;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      results.delete(ordinal);
      gathered = ordinal + 1;
      for (const give of givers) give();
    }
    await Promise.all(finished);
    if (failure) throw failure;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
