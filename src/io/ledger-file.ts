/**
 * File side of the decision ledger (src/ledger/ledger.ts): appending records to `FILE` and the
 * head to `FILE.head`, reading both back for verification and queries.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { type FileHandle, mkdir, open, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { ProofError } from "../errors.js";
import {
  appendEntry,
  type ChainTip,
  checkHead,
  checkRecord,
  EMPTY_TIP,
  type LedgerEntry,
  type LedgerHead,
  type LedgerObservation,
  renderHead,
} from "../ledger/ledger.js";
import { parsePrivateKey } from "../report/manifest.js";
import { jsonLine } from "./canonical.js";
import { toPosix } from "./files.js";
import { writeFailure, writeFileAtomic } from "./write.js";

/** The sidecar holding a ledger's head hash. */
export function headPath(ledger: string): string {
  return `${ledger}.head`;
}

/**
 * An open ledger. Appends of both kinds are chained in call order and written in group commits
 * (see {@link openLedger}); `close` waits for them and for the head.
 */
export interface Ledger {
  /**
   * Appends one decision record for `decision`. Resolves once the record is flushed to disk
   * (fsync); the head sidecar follows it asynchronously. Rejects with the system's error
   * (a ProofError of `writeFailure`) when its batch cannot be written.
   */
  append(decision: unknown): Promise<void>;
  /** Appends one observation record (src/ledger/session.ts builds them), as {@link Ledger.append}. */
  observe(observation: LedgerObservation): Promise<void>;
  /**
   * Waits for every append and for the head to name the last record, then closes the file.
   * Rejects when the ledger failed for good (its head could not be rewritten, or a failed batch
   * could not be cut off the file).
   */
  close(): Promise<void>;
}

/** Options of {@link openLedger}. */
export interface LedgerOptions {
  /**
   * Ed25519 private key signing each record and the head: a KeyObject, or the path of a PKCS#8
   * PEM file.
   */
  signKey?: KeyObject | string;
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new ProofError("io.unreadable", `cannot read ${toPosix(path)}: ${String(err)}`, {
      location: { file: toPosix(path) },
      cause: err,
    });
  }
}

/**
 * Reads a ledger and its head. A missing ledger file reads as empty (no lines).
 * @returns the lines without the final newline's empty remainder, and the head text or null.
 * @throws ProofError `io.unreadable` (exit 6).
 */
export async function readLedgerFiles(
  path: string,
): Promise<{ lines: string[]; head: string | null; text: string | null }> {
  const text = await readOptional(path);
  const lines = text === null || text === "" ? [] : text.split("\n");
  // One final newline ends the last record; anything else after it is a (bad) line.
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return { lines, head: await readOptional(headPath(path)), text };
}

/** Whether a head (already checked by checkHead) carries a signature. */
function headIsSigned(head: string): boolean {
  return (JSON.parse(head) as LedgerHead).sig !== undefined;
}

function broken(path: string, line: number | null, message: string): ProofError {
  // The location is printed from `location`: the message must not repeat it.
  return new ProofError("ledger.broken", message, {
    category: "integrity",
    location: line === null ? { file: toPosix(headPath(path)) } : { file: toPosix(path), line },
    hint: "a ledger that does not verify is never extended; start a new one and keep this one as evidence",
  });
}

/**
 * Opens a ledger for appending, creating it when missing. An existing ledger is checked first
 * (chain and head; with a key, the head's signature by that key, which covers every record through
 * the chain; record signatures are left to `proof ledger verify`): a broken one is never extended,
 * since its later records would hide the break, and an unsigned or re-headed one is never signed
 * anew, since a fresh signed head would vouch for a ledger cut before it was reopened. A new signed
 * ledger gets a signed head of seq -1 at once, so that emptying it shows too. Appends are written
 * in group commits, the head behind them (see groupCommitLedger below).
 * @throws ProofError `ledger.broken` (exit 2) when the existing ledger does not verify (with a
 *   key: also when its head is not signed by that key), `ledger.key_required` (exit 6) when the
 *   ledger is signed and no key is given (unsigned records would make it fail verification for
 *   good), `key.invalid` / `io.unreadable` (exit 6) for a bad key file.
 */
export async function openLedger(path: string, options: LedgerOptions = {}): Promise<Ledger> {
  const key =
    typeof options.signKey === "string"
      ? parsePrivateKey(await readFile(options.signKey, "utf8"), toPosix(options.signKey))
      : options.signKey;
  const { lines, head, text } = await readLedgerFiles(path);
  if (text !== null && text !== "" && !text.endsWith("\n"))
    throw broken(path, lines.length, "the last record is incomplete (no final newline)");
  let tip: ChainTip = EMPTY_TIP;
  for (const [i, line] of lines.entries()) {
    const next = checkRecord(tip, line);
    if (typeof next === "string") throw broken(path, i + 1, next);
    tip = next;
  }
  const fresh = tip.next === 0 && head === null;
  const headProblem = checkHead(tip, head, key && !fresh ? createPublicKey(key) : undefined);
  if (headProblem !== null) throw broken(path, null, headProblem);
  if (!key && head !== null && headIsSigned(head))
    throw new ProofError(
      "ledger.key_required",
      `${toPosix(path)} is a signed ledger: appending unsigned records would make it fail verification`,
      {
        location: { file: toPosix(headPath(path)) },
        hint: "give the key that signed it (--ledger-sign-key), or start a new ledger",
      },
    );
  await mkdir(dirname(path) || ".", { recursive: true });
  // Before the ledger file: a head of seq -1 beside a missing ledger still reads as empty and valid.
  if (key && fresh) await writeFileAtomic(headPath(path), renderHead(tip, key));
  const handle = await open(path, "a");
  return groupCommitLedger(path, handle, (await handle.stat()).size, tip, key);
}

/** An entry waiting for its batch, with the promise of the caller that appended it. */
interface Pending {
  entry: LedgerEntry;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Writes all of `bytes` at the end of the file. A regular file may take fewer bytes than asked
 * (a disk filling up): the rest is written until the system refuses with an error.
 */
async function appendAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
    if (bytesWritten === 0) throw Object.assign(new Error("no byte written"), { code: "EIO" });
    done += bytesWritten;
  }
}

/**
 * The append side of an open ledger: group commit, with the head written behind the records.
 *
 * Every entry appended while a batch is being written joins the next batch. A batch chains its
 * entries in the order they were appended (the records are the bytes that appending them one by
 * one gives: same seq, prev, hash and signature), writes all its lines at once, flushes them
 * (fsync), and only then resolves its callers: an entry's promise means its record is durable.
 * So with N appends in flight, N records cost one fsync instead of N.
 *
 * The head sidecar is rewritten apart from the batches, always to the last durable record and
 * never for a record not yet flushed, one rewrite at a time; rewrites that fall behind are
 * skipped to the latest tip. The head on disk therefore always names a durable record, at most
 * the batches written since its rewrite began behind the file's end; `close` waits until it names
 * the last record.
 *
 * A batch that fails (write or fsync) rejects each of its entries with the error; the file is cut
 * back to its length before the batch and flushed, so that no partial or unflushed record stays
 * and the chain goes on from the last durable record, as after a failed single append. When the
 * cut fails too, or the head cannot be rewritten, the ledger is failed for good: every later
 * append and `close` reject with that error (the file could end in a partial record, or the head
 * could no longer follow it).
 * @param size the file's length in bytes, which ends with the record of `tip`
 */
function groupCommitLedger(
  path: string,
  handle: FileHandle,
  size: number,
  tip: ChainTip,
  key: KeyObject | undefined,
): Ledger {
  let durable = tip;
  let headed = tip;
  let queue: Pending[] = [];
  // The running (or last) batch loop and head loop, which `close` waits for.
  let writing: Promise<void> = Promise.resolve();
  let heading: Promise<void> = Promise.resolve();
  let failure: { error: unknown } | null = null;
  let closed = false;

  // Each loop clears its busy flag in the same step as its last check of the work left, and
  // yields once before its first step: so work added at any moment is either seen by the running
  // loop or starts a new one, and the entries appended in one turn share the first batch.
  let headBusy = false;
  const writeHead = async () => {
    await null;
    while (failure === null && headed !== durable) {
      const target = durable;
      try {
        await writeFileAtomic(headPath(path), renderHead(target, key));
        headed = target;
      } catch (err) {
        failure ??= { error: err };
      }
    }
    headBusy = false;
  };
  const startHead = () => {
    if (headBusy) return;
    headBusy = true;
    heading = writeHead();
  };

  const writeBatch = async (batch: Pending[]) => {
    // Chained in queue order; an entry that cannot be made a record (not JSON) fails alone.
    let next = durable;
    const lines: string[] = [];
    const kept: Pending[] = [];
    for (const item of batch) {
      try {
        const made = appendEntry(next, item.entry, key);
        lines.push(jsonLine(made.record));
        next = made.tip;
        kept.push(item);
      } catch (err) {
        item.reject(err);
      }
    }
    if (kept.length === 0) return;
    const bytes = Buffer.from(lines.join(""), "utf8");
    try {
      await appendAll(handle, bytes);
      await handle.sync();
    } catch (err) {
      const error = writeFailure(err, path);
      for (const item of kept) item.reject(error);
      try {
        await handle.truncate(size);
        await handle.sync();
      } catch {
        failure ??= { error };
      }
      return;
    }
    size += bytes.length;
    durable = next;
    startHead();
    for (const item of kept) {
      // A head that could not be rewritten fails the records that came after it, as it did
      // when each append rewrote the head itself: their calls must not go on unaccounted.
      if (failure !== null) item.reject(failure.error);
      else item.resolve();
    }
  };

  let draining = false;
  const drain = async () => {
    await null;
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      if (failure !== null) for (const item of batch) item.reject(failure.error);
      else
        await writeBatch(batch).catch((err: unknown) => {
          for (const item of batch) item.reject(err);
        });
    }
    draining = false;
  };
  const startWriting = () => {
    if (draining) return;
    draining = true;
    writing = drain();
  };

  const add = (entry: LedgerEntry): Promise<void> => {
    if (closed) return Promise.reject(new Error("ledger: append after close"));
    if (failure !== null) return Promise.reject(failure.error);
    return new Promise<void>((resolve, reject) => {
      queue.push({ entry, resolve, reject });
      startWriting();
    });
  };

  return {
    append: (decision) => add({ decision }),
    observe: (observation) => add({ observation }),
    async close() {
      if (closed) return;
      closed = true;
      await writing;
      await heading;
      await handle.close();
      if (failure !== null) throw failure.error;
    },
  };
}
