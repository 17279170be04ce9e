/**
 * The worker pool of `proof verify --jobs N`: N threads judge trace files, this one and N - 1
 * worker threads (src/api/verify-worker.ts, `dist/verify-worker.js` in the bundle). Whole files
 * are handed out ({@link FileQueue}): this thread takes them from the front, in file order, and
 * judges one whenever it has no result to gather; workers take theirs several at a time, the
 * large files first, then from the back, and send their {@link JudgedCase}s back. Results are
 * given out in file order, whatever order the threads finish in, so a run with N threads writes
 * the same bytes as one with a single thread. Errors travel back as data and are raised when
 * their file's turn comes: the first bad file in file order fails the run, as in one thread.
 */
import { Worker } from "node:worker_threads";
import { existingFile } from "../io/built-file.js";
import { jsonLine } from "../io/canonical.js";
import { fileSizes } from "../io/file-sizes.js";
import { traceSource } from "../io/trace-files.js";
import { policySetOf } from "../policy/set.js";
import type { FormatName } from "../trace/model.js";
import { readTraces } from "../trace/read.js";
import type { CoverageReport } from "../verify/coverage.js";
import {
  type JudgedCase,
  type JudgeSetup,
  judgedCase,
  type SeenTraces,
  type ShardSpec,
  seenKey,
  shardOf,
} from "./judged.js";
import { decisionDigest, Judgement } from "./pipeline.js";
import { receivedError, type SentError } from "./pool-errors.js";
import { FileQueue, HeldResults, MAX_HELD } from "./pool-queue.js";

/**
 * Fewest trace files per judging thread. Starting a worker costs about 150 ms of CPU (loading the
 * engine and compiling the policies again), besides compiling the hot code again in its own JIT,
 * and a typical trace file takes 1 to 2 ms to judge, so a thread with fewer files costs more
 * than it saves. With fewer than twice this many files
 * a run stays in one thread (docs/performance.md, "Worker threads and shards").
 */
export const MIN_FILES_PER_WORKER = 128;

/**
 * Files handed to a worker at once, and most files it holds: it starts the next at once instead
 * of waiting for this thread, which is busy judging or gathering, to answer. A message costs far
 * more than judging a small file's share of one (docs/performance.md, "Worker threads and
 * shards"), so files go out and come back several to a message.
 */
const TASK_FILES = 8;
const IN_FLIGHT = 2 * TASK_FILES;

/** The worker's entry point beside this module: the built bundle's only. */
function workerFile(): string | undefined {
  // Run from the TypeScript sources (tests), there is no built worker to start.
  return existingFile(new URL("./verify-worker.js", import.meta.url));
}

/**
 * How many threads judge a run over `files` trace files with `--jobs jobs`: this one and all but
 * one in worker threads, or 0 (this thread alone, no pool) for one job, too few files for two
 * threads, or without a built worker.
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

/** What a worker is started with (`workerData`), and what this thread judges with in the pool. */
export interface WorkerInit {
  setup: JudgeSetup;
  format: FormatName | "auto";
  shard?: ShardSpec;
}

/** Judged cases of one file, in order, and the {@link seenKey}s of the traces read for them. */
export interface CaseBatch {
  cases: JudgedCase[];
  seen: string[];
}

/**
 * A file's share of a worker's reply: judged cases of the file, in order, in batches
 * ({@link judgeFile}), `more` true until its last batch; or the error that stopped it.
 */
export type FilePart =
  | ({ ordinal: number; more: boolean } & CaseBatch)
  | { ordinal: number; error: SentError };

/**
 * Messages from a worker: parts of the files it judged, in the order judged (a file of many
 * traces comes in several, so it never travels as one message), or at the end its coverage.
 */
export type WorkerReply = { parts: FilePart[] } | { coverage: CoverageReport | null };

/** Messages to a worker: files to judge in order, or the end of the work. */
export type WorkerTask = { files: PoolFile[] } | { done: true };

/** Most traces, and characters of decision lines, in one {@link CaseBatch}. */
export const BATCH_TRACES = 256;
export const BATCH_CHARS = 1 << 20;

/**
 * The judgement a pool thread judges with: the run's, made again from its set-up (a thread
 * shares no objects with another).
 * @throws ProofError (exit 6) when the plan does not fit, as the run's own judgement would.
 */
export function judgementOf(setup: JudgeSetup): Judgement {
  return new Judgement(policySetOf(setup.policies), {
    context: setup.context,
    hasContext: setup.hasContext,
    ...(setup.plan ? { plan: setup.plan, planFile: setup.planFile ?? "plan" } : {}),
    failOn: setup.failOn,
    ...(setup.coverage ? { coverage: setup.coverage } : {}),
  });
}

/**
 * Reads and judges one trace file in a pool thread, yielding its cases in batches of at most
 * {@link BATCH_TRACES} traces or {@link BATCH_CHARS} characters of decision lines (the last batch
 * may be empty). Each case carries its `decisions.jsonl` lines and decision digest, made here so
 * that serialising is spread over the threads; of a run's cases only the decisions the report
 * keeps are left (a shard's part keeps every one, for the merge).
 * @throws what reading the file throws (a bad trace is a located ProofError, exit 6).
 */
export async function* judgeFile(
  judgement: Judgement,
  init: WorkerInit,
  file: PoolFile,
): AsyncGenerator<CaseBatch> {
  const source = traceSource({ path: file.path, rel: file.rel });
  let batch: CaseBatch = { cases: [], seen: [] };
  let size = 0;
  let k = -1;
  for await (const trace of readTraces(source, init.format)) {
    k++;
    batch.seen.push(seenKey(trace));
    if (init.shard && shardOf(trace.header.case_id, init.shard.count) !== init.shard.index) continue;
    const c = judgedCase(judgement.verify(trace), trace, source.path, file.root, [file.ordinal, k]);
    c.decisionDigest = decisionDigest(c.result);
    c.lines = c.result.decisions.map((d) => jsonLine(d)).join("");
    // The thread that gathers cases needs no other decision, having their lines and digest.
    if (!init.shard) {
      c.result = {
        ...c.result,
        decisions: c.result.decisions.filter((d) => d.verdict !== "allow" || d.rules.length > 0),
      };
    }
    batch.cases.push(c);
    size += c.lines.length;
    if (batch.cases.length >= BATCH_TRACES || size >= BATCH_CHARS) {
      yield batch;
      batch = { cases: [], seen: [] };
      size = 0;
    }
  }
  yield batch;
}

/**
 * Judges `files` in `threads` threads (this one and `threads - 1` workers) and yields every judged
 * case in file order. `coverage` receives each thread's coverage document once all files are
 * judged; `stats.seen` gets every trace read, judged or not (a shard judges only its own), in
 * file order.
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
  const held = new HeldResults();
  // Workers take files from the back while results held fill at most half of MAX_HELD (they
  // wait until this thread gets there), then from the front too.
  let queue: FileQueue | undefined;
  /** The file being gathered: a file too large to hold is taken only once it is. */
  let turn = 0;

  const givers: (() => void)[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  const workers: Worker[] = [];
  const finished: Promise<void>[] = [];
  for (let i = 0; i < threads - 1; i++) {
    const worker = new Worker(file, { workerData: init });
    workers.push(worker);
    let outstanding = 0;
    let ended = false;
    /** Keeps the worker up to IN_FLIGHT files ahead; ends it once it has judged its last one. */
    const give = (): void => {
      while (queue && outstanding <= IN_FLIGHT - TASK_FILES && !queue.empty) {
        const task: PoolFile[] = [];
        while (task.length < TASK_FILES) {
          const taken = (held.size < MAX_HELD / 2 ? queue.back() : undefined) ?? queue.front(turn);
          if (taken === undefined) break;
          task.push(files[taken] as PoolFile);
        }
        // Nothing to take until the gathering reaches a file too large to hold.
        if (task.length === 0) break;
        worker.postMessage({ files: task } satisfies WorkerTask);
        outstanding += task.length;
      }
      if (queue?.empty && outstanding === 0 && !ended) {
        ended = true;
        worker.postMessage({ done: true } satisfies WorkerTask);
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
          for (const part of reply.parts) {
            if ("error" in part) held.fail(part.ordinal, receivedError(part.error));
            else held.add(part.ordinal, { cases: part.cases, seen: part.seen }, !part.more);
            if ("error" in part || !part.more) outstanding--;
          }
          give();
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
  }
  // Sized while the workers start.
  queue = new FileQueue(fileSizes(files.map((f) => f.path)), threads);
  for (const give of givers) give();
  // Made while the workers start: this thread judges whenever it has nothing to gather.
  const judgement = judgementOf(init.setup);
  /** Judges a file ahead of its turn into `held`: its cases, or its error. */
  const judgeAhead = async (taken: PoolFile): Promise<void> => {
    try {
      for await (const batch of judgeFile(judgement, init, taken)) held.add(taken.ordinal, batch, false);
      held.add(taken.ordinal, { cases: [], seen: [] }, true);
    } catch (err) {
      held.fail(taken.ordinal, err instanceof Error ? err : new Error(String(err)));
    }
  };
  try {
    for (let ordinal = 0; ordinal < files.length; ordinal++) {
      turn = ordinal;
      // The file's batches are taken as they come: the cases of a long file are written while
      // its worker still judges the rest.
      for (;;) {
        const batch = held.take(ordinal);
        if (batch) {
          for (const key of batch.seen) stats.seen.add(key);
          yield* batch.cases;
          continue;
        }
        if (held.done(ordinal)) break;
        if (failure) throw failure;
        // A file ahead of its turn is judged here only while there is room to hold its results.
        const idle = (): boolean => queue.empty || (queue.first !== ordinal && held.size >= MAX_HELD);
        if (idle()) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          continue;
        }
        // Reads are synchronous (src/io/files.ts): without a turn of the event loop before each
        // file judged here, the workers' replies would wait, and the workers idle.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (held.ready(ordinal) || idle()) continue;
        const next = queue.front(ordinal);
        if (next === undefined) {
          // The next file is too large to judge ahead, and this file's worker is still at it.
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          continue;
        }
        const taken = files[next] as PoolFile;
        if (taken.ordinal !== ordinal) {
          // The file's worker is still at it: a later file is judged meanwhile, held until its turn.
          await judgeAhead(taken);
          continue;
        }
        // No thread had taken it: its cases go out as they are judged.
        for await (const judged of judgeFile(judgement, init, taken)) {
          for (const key of judged.seen) stats.seen.add(key);
          yield* judged.cases;
        }
        break;
      }
      held.drop(ordinal);
      for (const give of givers) give();
    }
    const own = judgement.coverage();
    if (own) coverage.push(own);
    for (const give of givers) give();
    await Promise.all(finished);
    if (failure) throw failure;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
