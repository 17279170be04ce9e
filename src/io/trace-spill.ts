/**
 * Report entries kept on disk instead of in memory: a run over a large corpus writes each trace's
 * `report.json` entry to a scratch file as it is judged and keeps only an index (case id, offset,
 * length, the verdicts of its findings), so that its memory follows the largest trace, not the
 * corpus. The artifacts read entries back one at a time; `report.json` copies their text as is.
 *
 * The scratch file lives beside the out dir's staging directory (the same file system as the out
 * dir, not a RAM-backed temporary directory; outside the staging directory, so that no file of it
 * is open when it is renamed) and is unlinked as soon as it is opened: it is never listed, and
 * nothing is left behind when the process dies. Where an open file cannot be unlinked,
 * {@link SpilledTraceStore.open} gives undefined and the entries stay in memory.
 */
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Verdict } from "../policy/ir.js";
import type { Finding, StoredTraces, TraceEntry, TraceEntryStore } from "../report/report.js";
import { VERDICT_ORDER } from "../verify/decision.js";
import { prettyJsonAt } from "./canonical.js";

/**
 * The indent of an entry in `report.json` (an element of `traces`, two levels down): entries are
 * stored rendered at it, so that writing the report copies them.
 */
export const ENTRY_INDENT = "    ";

/** Bytes gathered before one write to the scratch file. */
const BLOCK = 1 << 20;

/** Bytes read at once when reading back: enough for the entries that follow one read in order. */
const WINDOW = 1 << 16;

// A store that is dropped without being read to the end still closes its file.
const closer = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
});

/**
 * A {@link TraceEntryStore} over an unlinked scratch file. Entries are written in the order
 * added; {@link sorted} orders the index by case id and reads entries back by position.
 * @throws the file system's errors (ENOSPC, EIO) from {@link add} and the readers.
 */
export class SpilledTraceStore implements TraceEntryStore {
  private readonly pending: string[] = [];
  private pendingBytes = 0;
  /** Bytes written to the file so far. */
  private written = 0;
  private readonly offsets: number[] = [];
  private readonly lengths: number[] = [];
  private readonly caseIds: string[] = [];
  /** Each entry's verdict (VERDICT_ORDER index). */
  private readonly verdictOf: number[] = [];
  /** Per entry, where its findings start in {@link findingDecision} / {@link findingVerdict}. */
  private readonly findingStart: number[] = [0];
  /** Index into its entry's `decisions` of each finding, and its verdict (VERDICT_ORDER index). */
  private readonly findingDecision: number[] = [];
  private readonly findingVerdict: number[] = [];
  /** The bytes read back last: `windowLength` bytes of the file from {@link windowStart}, reused. */
  private window = Buffer.allocUnsafe(WINDOW);
  private windowStart = 0;
  private windowLength = 0;
  /** Entries the window served since it was read, besides the one it was read for. */
  private served = 0;
  private last: { index: number; entry: TraceEntry } | undefined;

  private constructor(private readonly fd: number) {
    closer.register(this, fd);
  }

  /**
   * A store whose scratch file is created in `dir`, named `stem` and a random suffix, and
   * unlinked at once; undefined where the platform cannot unlink an open file (the caller then
   * keeps entries in memory).
   * @throws the file system's errors from creating the file.
   */
  static open(dir: string, stem = ".report-entries"): SpilledTraceStore | undefined {
    const path = join(dir, `${stem}-${randomBytes(6).toString("hex")}`);
    const fd = openSync(path, "wx+", 0o600);
    try {
      unlinkSync(path);
    } catch {
      closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        // Removed with the staging directory.
      }
      return undefined;
    }
    return new SpilledTraceStore(fd);
  }

  add(entry: TraceEntry): void {
    const text = prettyJsonAt(entry, ENTRY_INDENT);
    const bytes = Buffer.byteLength(text);
    this.offsets.push(this.written + this.pendingBytes);
    this.lengths.push(bytes);
    this.caseIds.push(entry.case_id);
    this.verdictOf.push(VERDICT_ORDER.indexOf(entry.verdict));
    entry.decisions.forEach((d, i) => {
      if (d.verdict === "allow") return;
      this.findingDecision.push(i);
      this.findingVerdict.push(VERDICT_ORDER.indexOf(d.verdict));
    });
    this.findingStart.push(this.findingDecision.length);
    this.pending.push(text);
    this.pendingBytes += bytes;
    if (this.pendingBytes >= BLOCK) this.flush();
  }

  *inOrder(): Generator<TraceEntry> {
    this.flush();
    for (let i = 0; i < this.caseIds.length; i++) yield this.entry(i);
  }

  fileAt(index: number): string {
    this.flush();
    return this.entry(index).file;
  }

  sorted(): StoredTraces {
    this.flush();
    const ids = this.caseIds;
    const order = ids.map((_, i) => i).sort((a, b) => ((ids[a] as string) < (ids[b] as string) ? -1 : 1));
    this.rewriteIn(order);
    /** Entry (by add order) and decision index of each finding in report order. */
    const findingEntry: number[] = [];
    const findingIndex: number[] = [];
    const verdicts: Verdict[] = [];
    for (const i of order) {
      for (let f = this.findingStart[i] as number; f < (this.findingStart[i + 1] as number); f++) {
        findingEntry.push(i);
        findingIndex.push(this.findingDecision[f] as number);
        verdicts.push(VERDICT_ORDER[this.findingVerdict[f] as number] as Verdict);
      }
    }
    const store = this;
    return {
      length: order.length,
      *entries() {
        for (const i of order) yield store.entry(i);
      },
      verdicts: () => order.map((i) => VERDICT_ORDER[this.verdictOf[i] as number] as Verdict),
      findingVerdicts: () => verdicts,
      finding(k: number): Finding {
        const trace = store.entry(findingEntry[k] as number);
        return { trace, decision: trace.decisions[findingIndex[k] as number] as Finding["decision"] };
      },
      find(caseId: string): TraceEntry | undefined {
        let lo = 0;
        let hi = order.length - 1;
        while (lo <= hi) {
          const mid = (lo + hi) >> 1;
          const i = order[mid] as number;
          const id = ids[i] as string;
          if (id === caseId) return store.entry(i);
          if (id < caseId) lo = mid + 1;
          else hi = mid - 1;
        }
        return undefined;
      },
      *rendered(indent: string) {
        for (const i of order) {
          const text = store.text(i);
          yield indent === ENTRY_INDENT ? text : prettyJsonAt(store.parse(text), indent);
        }
      },
    };
  }

  /**
   * Copies the entries to the end of the file in `order`, when that is not the order they were
   * written in: every later pass (the report, JUnit, findings) then reads the file front to back
   * instead of seeking for each entry.
   */
  private rewriteIn(order: readonly number[]): void {
    if (order.every((i, k) => i === k)) return;
    const moved = new Array<number>(order.length);
    let at = this.written;
    for (const i of order) {
      const text = this.text(i);
      moved[i] = at;
      at += this.lengths[i] as number;
      this.pending.push(text);
      this.pendingBytes += this.lengths[i] as number;
      if (this.pendingBytes >= BLOCK) this.flush();
    }
    this.flush();
    for (const [i, offset] of moved.entries()) this.offsets[i] = offset;
    this.windowLength = 0;
    this.last = undefined;
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    const chunk = Buffer.from(this.pending.join(""));
    let done = 0;
    while (done < chunk.length)
      done += writeSync(this.fd, chunk, done, chunk.length - done, this.written + done);
    this.written += chunk.length;
    this.pending.length = 0;
    this.pendingBytes = 0;
  }

  /** The rendered text of the entry added `i`-th (written out: {@link flush} ran since it was added). */
  private text(i: number): string {
    const offset = this.offsets[i] as number;
    const length = this.lengths[i] as number;
    const from = offset - this.windowStart;
    if (from >= 0 && from + length <= this.windowLength) {
      this.served++;
      return this.window.toString("utf8", from, from + length);
    }
    // Read in the order written, one read serves the entries that follow; read in another order
    // (case ids that sort otherwise than their files), a read that served no other entry is
    // followed by one of the entry alone.
    const ahead = this.served > 0 ? WINDOW : 0;
    this.served = 0;
    const size = Math.min(Math.max(ahead, length), this.written - offset);
    if (size > this.window.length) this.window = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(this.fd, this.window, got, size - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    this.windowStart = offset;
    this.windowLength = got;
    return this.window.toString("utf8", 0, length);
  }

  /** An entry from its text: our own rendering of plain JSON, so the built-in parser reads it as written. */
  private parse(text: string): TraceEntry {
    return JSON.parse(text) as TraceEntry;
  }

  /** The entry added `i`-th, read back (the last one read is kept: findings of a trace follow each other). */
  private entry(i: number): TraceEntry {
    if (this.last?.index === i) return this.last.entry;
    const entry = this.parse(this.text(i));
    this.last = { index: i, entry };
    return entry;
  }
}
