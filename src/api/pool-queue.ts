/**
 * What the worker pool (src/api/pool.ts) hands out next and what it holds meanwhile: the files no
 * thread has taken ({@link FileQueue}), and the results of files judged ahead of their turn
 * ({@link HeldResults}), bounded so that the pool's memory does not grow with the corpus.
 */
import type { JudgedCase } from "./judged.js";
import type { CaseBatch } from "./pool.js";

/**
 * Most bytes of judged cases held in memory ahead of their turn (a rough count, {@link heldBytes}):
 * results of later files wait for an earlier one, so a slow file must not let the others run far
 * ahead. Counted in bytes, not files or cases, so that while one thread judges a JSON Lines file
 * of thousands of traces the others go on with as many small files as that takes, and a case of
 * many calls counts for what it holds: each case holds every decision of its trace until it is
 * written. With 8,192 cases held, or 32 MiB, peak memory on the 1 GB bench corpus was 400 to
 * 420 MiB with two threads; with 8 MiB it is 330 MiB, and the run no slower (docs/performance.md).
 */
export const MAX_HELD = 8 * 1024 * 1024;

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
export class HeldResults {
  /** Per file its batches, each with the bytes it was counted for, and whether its last came. */
  private readonly files = new Map<
    number,
    { batches: { batch: CaseBatch; bytes: number }[]; done: boolean } | Error
  >();
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
    const bytes = batchBytes(batch);
    entry.batches.push({ batch, bytes });
    this.size += bytes;
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
    const held = entry?.batches.shift();
    if (!held) return undefined;
    this.size -= held.bytes;
    return held.batch;
  }

  drop(ordinal: number): void {
    const entry = this.files.get(ordinal);
    if (entry === undefined) return;
    this.size -= FILE_BYTES + (entry instanceof Error ? 0 : entry.batches.reduce((n, b) => n + b.bytes, 0));
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
