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
import { ProofError, ProofErrors, type SourceLocation } from "../errors.js";
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
 * Most bytes of judged cases held in memory ahead of their turn (a rough count, {@link heldBytes}):
 * results of later files wait for an earlier one, so a slow file must not let the others run far
 * ahead. Counted in bytes, not files or cases, so that while one thread judges a JSON Lines file
 * of thousands of traces the others go on with as many small files as that takes, and a case of
 * many calls counts for what it holds: each case holds every decision of its trace until it is
 * written. With 8,192 cases held, or 32 MiB, peak memory on the 1 GB bench corpus was 400 to
 * 420 MiB with two threads; with 8 MiB it is 330 MiB, and the run no slower (docs/performance.md).
 */
const MAX_HELD = 8 * 1024 * 1024;

/** What a held file counts besides its cases. */
const FILE_BYTES = 1024;

/**
 * Rough bytes a judged case holds: its `decisions.jsonl` lines and the decision objects they
 * were written from (about as large again), or, without lines, a kilobyte per decision.
 */
function heldBytes(c: JudgedCase): number {
  return 512 + (c.lines !== undefined ? 2 * c.lines.length : 1024 * c.result.decisions.length);
}

/**
 * Largest trace file (bytes) a thread judges ahead of its turn. All of such a file's results are
 * held until its turn comes, so a larger file (a JSON Lines file of tens of thousands of traces)
 * is judged only once it is the file being gathered, its cases written as they are judged: held
 * whole, a 240 MB file's cases more than doubled the run's peak memory.
 */
export const HOLD_BYTES = 32 * 1024 * 1024;

function batchBytes(batch: CaseBatch): number {
  let n = 0;
  for (const c of batch.cases) n += heldBytes(c);
  return n;
}

/** Results of files judged ahead of their turn: their batches so far, or the error that stopped them. */
class HeldResults {
  private readonly files = new Map<number, { batches: CaseBatch[]; done: boolean } | Error>();
  /** Bytes held ({@link heldBytes} of each case, {@link FILE_BYTES} per file). */
  size = 0;

  /** Whether a file's last batch is in, or its error. */
  done(ordinal: number): boolean {
    const entry = this.files.get(ordinal);
    return entry instanceof Error || entry?.done === true;
  }

  /** Whether anything of the file can be taken: a batch, or its error. */
  ready(ordinal: number): boolean {
    const entry = this.files.get(ordinal);
    return entry instanceof Error || (entry !== undefined && entry.batches.length > 0);
  }

  add(ordinal: number, batch: CaseBatch, last: boolean): void {
    let entry = this.files.get(ordinal);
    if (entry instanceof Error) return;
    if (!entry) {
      entry = { batches: [], done: false };
      this.files.set(ordinal, entry);
      this.size += FILE_BYTES;
    }
    entry.batches.push(batch);
    this.size += batchBytes(batch);
    if (last) entry.done = true;
  }

  fail(ordinal: number, err: Error): void {
    this.drop(ordinal);
    this.files.set(ordinal, err);
    this.size += FILE_BYTES;
  }

  /**
   * The file's next batch, or undefined when none is in yet or the file is done.
   * @throws the file's error
   */
  take(ordinal: number): CaseBatch | undefined {
    const entry = this.files.get(ordinal);
    if (entry instanceof Error) throw entry;
    const batch = entry?.batches.shift();
    if (batch) this.size -= batchBytes(batch);
    return batch;
  }

  drop(ordinal: number): void {
    const entry = this.files.get(ordinal);
    if (entry === undefined) return;
    this.size -=
      FILE_BYTES + (entry instanceof Error ? 0 : entry.batches.reduce((n, b) => n + batchBytes(b), 0));
    this.files.delete(ordinal);
  }
}

/**
 * The files no thread has taken yet, by ordinal. This thread takes them from the front, in file
 * order ({@link front}); workers take the largest files first, then from the back ({@link back}).
 * A large file left to the end would keep one thread busy while the others have nothing left;
 * taking the rest from the back gives each thread a long run of neighbouring files, mostly of
 * one source and format, so each compiles less code for fewer shapes than when files are dealt
 * out in turn.
 */
export class FileQueue {
  private readonly taken: Uint8Array;
  /** 1 for a file too large to judge ahead of its turn (more than `hold` bytes). */
  private readonly big: Uint8Array;
  /** Ordinals of the large files, largest last (taken with pop). */
  private readonly large: number[];
  private head = 0;
  private end: number;

  /**
   * @param sizes each file's size in bytes, in file order: a file of more than `1 / (8 * threads)`
   *   of all bytes is large
   * @param hold the largest file judged ahead of its turn (see {@link HOLD_BYTES}): a larger one
   *   is taken only at the front, once it is the file being gathered
   */
  constructor(sizes: readonly number[], threads: number, hold = HOLD_BYTES) {
    this.taken = new Uint8Array(sizes.length);
    this.big = Uint8Array.from(sizes, (size) => (size > hold ? 1 : 0));
    this.end = sizes.length;
    const total = sizes.reduce((a, b) => a + b, 0);
    this.large = sizes
      .map((size, ordinal) => ({ size, ordinal }))
      .filter((f) => f.size * 8 * threads > total && f.size <= hold)
      .sort((a, b) => a.size - b.size || a.ordinal - b.ordinal)
      .map((f) => f.ordinal);
  }

  /** The first file not taken (the number of files when all are). */
  get first(): number {
    while (this.head < this.end && this.taken[this.head]) this.head++;
    return this.head < this.end ? this.head : this.taken.length;
  }

  /** Whether every file is taken. */
  get empty(): boolean {
    return this.first >= this.taken.length;
  }

  /**
   * Takes the first file not taken, unless it is too large to hold and not the file `turn` (the
   * one being gathered; none given: any file).
   * @returns its ordinal, or undefined when all are taken or the first must wait for its turn.
   */
  front(turn?: number): number | undefined {
    const i = this.first;
    if (i >= this.taken.length) return undefined;
    if (this.big[i] && turn !== undefined && i !== turn) return undefined;
    this.taken[i] = 1;
    return i;
  }

  /**
   * Takes the largest file not taken, else the last, unless that one is too large to hold.
   * @returns its ordinal, or undefined.
   */
  back(): number | undefined {
    for (let i = this.large.pop(); i !== undefined; i = this.large.pop()) {
      if (!this.taken[i]) {
        this.taken[i] = 1;
        return i;
      }
    }
    while (this.end > this.head && this.taken[this.end - 1]) this.end--;
    if (this.end <= this.head || this.big[this.end - 1]) return undefined;
    this.end--;
    this.taken[this.end] = 1;
    return this.end;
  }
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
