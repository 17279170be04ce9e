/**
 * File side of the decision ledger (src/ledger/ledger.ts): appending records to `FILE` and the
 * head to `FILE.head`, reading both back for verification and queries.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { mkdir, open, readFile } from "node:fs/promises";
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
import { writeFileAtomic } from "./write.js";

/** The sidecar holding a ledger's head hash. */
export function headPath(ledger: string): string {
  return `${ledger}.head`;
}

/** An open ledger. Appends of both kinds are serialised in call order; `close` waits for them. */
export interface Ledger {
  /** Appends one decision record for `decision`, then rewrites the head sidecar. */
  append(decision: unknown): Promise<void>;
  /** Appends one observation record (src/ledger/session.ts builds them), then rewrites the head. */
  observe(observation: LedgerObservation): Promise<void>;
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
 * ledger gets a signed head of seq -1 at once, so that emptying it shows too.
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
  let queue: Promise<void> = Promise.resolve();
  let closed = false;
  const add = (entry: LedgerEntry): Promise<void> => {
    if (closed) return Promise.reject(new Error("ledger: append after close"));
    const run = async () => {
      const { record, tip: next } = appendEntry(tip, entry, key);
      await handle.write(jsonLine(record));
      await handle.sync();
      tip = next;
      await writeFileAtomic(headPath(path), renderHead(tip, key));
    };
    // Serialised: each record links to the one before, so appends must not interleave. A failed
    // append does not stop later ones from trying (and failing loudly if the file is gone).
    const p = queue.then(run);
    queue = p.catch(() => {});
    return p;
  };
  return {
    append: (decision) => add({ decision }),
    observe: (observation) => add({ observation }),
    async close() {
      if (closed) return;
      closed = true;
      await queue;
      await handle.close();
    },
  };
}
