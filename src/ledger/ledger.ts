/**
 * The decision ledger: one JSON line per decision or observed event, hash-chained, optionally
 * Ed25519-signed, with a head sidecar so that cutting lines off the end is detected too. When the
 * ledger is signed, so is the head: an unsigned head could be rewritten to name any earlier record,
 * which would hide a truncation from a verifier holding the public key. Pure: records, chain and
 * verification; the file side is src/io/ledger-file.ts.
 */
import { type KeyObject, sign, verify } from "node:crypto";
import { ProofError } from "../errors.js";
import { canonicalJson, sha256Hex } from "../io/canonical.js";
import { parseJson } from "../trace/json.js";

/** `prev` of the first record. */
export const GENESIS = `sha256:${"0".repeat(64)}`;

/**
 * An event the guard observed (a tool result or a message), as an observation record holds it: what
 * lineage needs to prove where a value came from, without the content itself (ledgers are often
 * kept where tool output must not be). `session` and `seq` are the key a decision's evidence points
 * at: a decision record of the same `session` whose evidence names `source.seq` = `seq`.
 */
export interface LedgerObservation {
  /** The writer's id of the guarded session (one guard); decision records of it carry the same. */
  session: string;
  /** The event's seq in the session's trace (the guard's numbering, as evidence `source.seq`). */
  seq: number;
  type: "tool_result" | "message";
  /** For a message: `system`, `user` or `assistant`. */
  role?: string;
  /** For a tool result: the tool, when known. */
  tool: string | null;
  /** For a tool result: the id of the call it answers, when known. */
  call_id: string | null;
  /** The event's address in the trace, `events[SEQ]`. */
  at: string;
  /** Whether the tool result is an error. */
  error: boolean;
  /** `sha256:` + hex SHA-256 of the UTF-8 content the guard observed (the result's text). */
  content_sha256: string;
}

/**
 * One line of a ledger, of one of two kinds: a decision record (`decision`) or an observation
 * record (`observation`); never both. `seq` counts from 0 over both kinds; `sig` is base64 Ed25519
 * over the UTF-8 bytes of `hash`.
 */
export interface LedgerRecord {
  seq: number;
  /** `hash` of the previous record, {@link GENESIS} for the first. */
  prev: string;
  /**
   * `sha256:` + hex SHA-256 of the canonical JSON of `{seq, prev, decision}` or
   * `{seq, prev, observation}`.
   */
  hash: string;
  /** The decision as the guard gave it (any JSON value), with what the writer added. */
  decision?: unknown;
  observation?: LedgerObservation;
  sig?: string;
}

/** What a record holds besides its chain fields: a decision or an observation. */
export type LedgerEntry = { decision: unknown } | { observation: LedgerObservation };

/** The content digest an observation record carries: `sha256:` + hex over the UTF-8 text. */
export function contentDigest(text: string): string {
  return `sha256:${sha256Hex(text)}`;
}

/**
 * The head sidecar (`FILE.head`): the last record's seq and hash; `seq` -1 and {@link GENESIS} for
 * an empty ledger. `sig`, in a signed ledger, is base64 Ed25519 over {@link headSignedBytes}.
 */
export interface LedgerHead {
  seq: number;
  hash: string;
  sig?: string;
}

/** The `schema` inside the bytes a head signature covers: see {@link headSignedBytes}. */
export const HEAD_SIGNATURE_SCHEMA = "proof.ledger.head/v1";

/**
 * The bytes a head signature covers: the canonical JSON (RFC 8785) of
 * `{"hash": HASH, "schema": "proof.ledger.head/v1", "seq": SEQ}`. A record's signature covers the
 * bare `sha256:…` text of its hash; these bytes start with `{`, so no record signature can be
 * copied into a head (which would let anyone who cut the ledger sign its new end).
 */
export function headSignedBytes(seq: number, hash: string): Buffer {
  return Buffer.from(canonicalJson({ hash, schema: HEAD_SIGNATURE_SCHEMA, seq }), "utf8");
}

/** Where a chain stands after its last record: what the next record links to. */
export interface ChainTip {
  /** Seq of the next record. */
  next: number;
  /** Hash the next record's `prev` must hold. */
  prev: string;
}

/** The tip of an empty ledger. */
export const EMPTY_TIP: ChainTip = { next: 0, prev: GENESIS };

/** The hash of a decision record: over everything but `hash` and `sig`. */
export function recordHash(seq: number, prev: string, decision: unknown): string {
  return entryHash(seq, prev, { decision });
}

/** The hash of a record of either kind: over everything but `hash` and `sig`. */
export function entryHash(seq: number, prev: string, entry: LedgerEntry): string {
  return `sha256:${sha256Hex(canonicalJson({ seq, prev, ...entry }))}`;
}

/** The entry a parsed record holds. */
export function entryOf(record: LedgerRecord): LedgerEntry {
  return record.observation !== undefined
    ? { observation: record.observation }
    : { decision: record.decision };
}

/**
 * Builds the record that follows `tip`, signed when a private key is given (Ed25519 is
 * deterministic: same record, same key, same signature).
 * @returns the record and the new tip.
 */
export function appendRecord(
  tip: ChainTip,
  decision: unknown,
  signKey?: KeyObject,
): { record: LedgerRecord; tip: ChainTip } {
  return appendEntry(tip, { decision }, signKey);
}

/** As {@link appendRecord}, for a record of either kind. */
export function appendEntry(
  tip: ChainTip,
  entry: LedgerEntry,
  signKey?: KeyObject,
): { record: LedgerRecord; tip: ChainTip } {
  const hash = entryHash(tip.next, tip.prev, entry);
  const record: LedgerRecord = { seq: tip.next, prev: tip.prev, hash, ...entry };
  if (signKey) record.sig = sign(null, Buffer.from(hash, "utf8"), signKey).toString("base64");
  return { record, tip: { next: tip.next + 1, prev: hash } };
}

/**
 * The sidecar's content for a tip: canonical JSON of {@link LedgerHead} and a newline, signed when
 * a private key is given.
 */
export function renderHead(tip: ChainTip, signKey?: KeyObject): string {
  const head: LedgerHead = { seq: tip.next - 1, hash: tip.prev };
  if (signKey) head.sig = sign(null, headSignedBytes(head.seq, head.hash), signKey).toString("base64");
  return `${canonicalJson(head)}\n`;
}

/** A problem found by {@link verifyLedger}: `line` is 1-based in the ledger file, null for the head. */
export interface LedgerProblem {
  line: number | null;
  message: string;
}

/** The outcome of {@link verifyLedger}: the records read, and the first problem if any. */
export interface LedgerVerification {
  records: number;
  problem: LedgerProblem | null;
}

const KEYS = new Set(["seq", "prev", "hash", "decision", "observation", "sig"]);
const OBSERVATION_KEYS = new Set([
  "session",
  "seq",
  "type",
  "role",
  "tool",
  "call_id",
  "at",
  "error",
  "content_sha256",
]);

function isNullableString(v: unknown): boolean {
  return v === null || typeof v === "string";
}

/** Whether a value is a {@link LedgerObservation}: lineage relies on every field being there. */
function isObservation(v: unknown): v is LedgerObservation {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return (
    Object.keys(o).every((k) => OBSERVATION_KEYS.has(k)) &&
    typeof o.session === "string" &&
    Number.isInteger(o.seq) &&
    (o.type === "tool_result" || o.type === "message") &&
    (o.role === undefined || typeof o.role === "string") &&
    isNullableString(o.tool) &&
    isNullableString(o.call_id) &&
    typeof o.at === "string" &&
    typeof o.error === "boolean" &&
    typeof o.content_sha256 === "string"
  );
}

function isRecordShape(v: unknown): v is LedgerRecord {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  // Exactly one of the two kinds: a record holding both would be read differently by each reader.
  const kind = "decision" in r ? !("observation" in r) : isObservation(r.observation);
  return (
    Object.keys(r).every((k) => KEYS.has(k)) &&
    Number.isInteger(r.seq) &&
    typeof r.prev === "string" &&
    typeof r.hash === "string" &&
    kind &&
    (r.sig === undefined || typeof r.sig === "string")
  );
}

/**
 * Parses strict JSON (see parseJson: no key twice, no out-of-range number, bounded depth). A key
 * given twice would let the hash cover one reading of a line while another reader sees the other.
 * @returns the value, or a message saying why the text is not strict JSON.
 */
function parseStrict(text: string): { value: unknown } | string {
  try {
    return { value: parseJson(text, "") };
  } catch (err) {
    if (!(err instanceof ProofError)) throw err;
    const column = err.location?.column === undefined ? "" : ` (column ${err.location.column})`;
    return `not strict JSON: ${err.message}${column}`;
  }
}

/**
 * Parses one ledger line. @returns the record, or a message saying why it is not one.
 */
export function parseRecord(text: string): LedgerRecord | string {
  const parsed = parseStrict(text);
  if (typeof parsed === "string") return parsed;
  return isRecordShape(parsed.value)
    ? parsed.value
    : "not a ledger record {seq, prev, hash, decision | observation, sig?}";
}

/**
 * Folds one record into a chain check: its shape, seq, link, hash and (with `publicKey`) its
 * signature. @returns the new tip, or a message naming what is wrong.
 */
export function checkRecord(tip: ChainTip, text: string, publicKey?: KeyObject): ChainTip | string {
  const record = parseRecord(text);
  if (typeof record === "string") return record;
  if (record.seq !== tip.next)
    return `seq is ${record.seq}, expected ${tip.next} (records reordered or removed)`;
  if (record.prev !== tip.prev) return `prev does not match the previous record's hash`;
  if (entryHash(record.seq, record.prev, entryOf(record)) !== record.hash)
    return "hash does not match the record's content (record changed)";
  if (publicKey) {
    if (record.sig === undefined) return "record is not signed";
    if (!verifies(Buffer.from(record.hash, "utf8"), record.sig, publicKey))
      return "signature does not verify with the given public key";
  }
  return { next: tip.next + 1, prev: record.hash };
}

function verifies(message: Buffer, sig: string, publicKey: KeyObject): boolean {
  try {
    return verify(null, message, publicKey, Buffer.from(sig, "base64"));
  } catch {
    return false;
  }
}

/**
 * Verifies a whole ledger: every line in order (empty lines are not allowed, except a final
 * newline), then the head sidecar against the last record. A missing head (`null`) is a problem
 * unless the ledger is empty: deleting it would otherwise hide a truncation. With `publicKey`,
 * every record and the head must be signed by it, and the head must exist even for an empty
 * ledger; without it, nothing binds the head to a signer, so a ledger cut and re-headed verifies
 * too (only a changed or reordered record, or a stale head, is found).
 * @returns the number of good records and the first problem, or `problem: null`.
 */
export function verifyLedger(
  lines: readonly string[],
  head: string | null,
  publicKey?: KeyObject,
): LedgerVerification {
  let tip = EMPTY_TIP;
  for (const [i, text] of lines.entries()) {
    const next = checkRecord(tip, text, publicKey);
    if (typeof next === "string") return { records: tip.next, problem: { line: i + 1, message: next } };
    tip = next;
  }
  const problem = checkHead(tip, head, publicKey);
  return { records: tip.next, problem: problem === null ? null : { line: null, message: problem } };
}

const HEAD_KEYS = new Set(["seq", "hash", "sig"]);

/**
 * Compares the head sidecar with the chain's tip. With `publicKey` the head must exist (an empty
 * signed ledger has a signed head of seq -1: deleting the ledger's lines and its head would
 * otherwise pass) and carry a signature by that key over {@link headSignedBytes}. The signature is
 * checked before the head is compared with the file, so a rewritten head is reported as such.
 * @returns a message, or null when they agree.
 */
export function checkHead(tip: ChainTip, head: string | null, publicKey?: KeyObject): string | null {
  if (head === null) {
    if (publicKey) return "head file is missing (a signed ledger always has a signed head)";
    return tip.next === 0 ? null : "head file is missing";
  }
  const parsed = parseStrict(head);
  if (typeof parsed === "string") return `head file is ${parsed}`;
  const h = parsed.value as Partial<LedgerHead> | null;
  if (
    h === null ||
    typeof h !== "object" ||
    Array.isArray(h) ||
    !Object.keys(h).every((k) => HEAD_KEYS.has(k)) ||
    !Number.isInteger(h.seq) ||
    typeof h.hash !== "string" ||
    (h.sig !== undefined && typeof h.sig !== "string")
  )
    return "head file is not {seq, hash, sig?}";
  const seq = h.seq as number;
  if (publicKey) {
    if (h.sig === undefined)
      return "head is not signed: without a signed head, records cut off the end cannot be detected";
    if (!verifies(headSignedBytes(seq, h.hash), h.sig, publicKey))
      return "head signature does not verify with the given public key (head rewritten or signed by another key)";
  }
  const last = tip.next - 1;
  if (seq !== last || h.hash !== tip.prev) {
    if (seq > last) return `ledger truncated: head names record seq ${seq}, the file ends at seq ${last}`;
    return `head mismatch: head names record seq ${seq} ${h.hash}, the file ends at seq ${last} ${tip.prev}`;
  }
  return null;
}

/** Filters of `proof ledger query`: all given ones must hold. */
export interface LedgerQuery {
  verdict?: string;
  rule?: string;
  tool?: string;
  /** Records with `seq` at or above this. */
  sinceSeq?: number;
}

/**
 * Whether a record passes a query; a decision without the field never matches that filter. An
 * observation record passes only filters it can answer: `tool` and `sinceSeq` (no verdict or rule).
 */
export function matchesQuery(record: LedgerRecord, q: LedgerQuery): boolean {
  if (q.sinceSeq !== undefined && record.seq < q.sinceSeq) return false;
  if (record.observation !== undefined)
    return (
      q.verdict === undefined &&
      q.rule === undefined &&
      (q.tool === undefined || record.observation.tool === q.tool)
    );
  const d = (record.decision ?? {}) as { verdict?: unknown; rules?: unknown; tool?: unknown };
  if (q.verdict !== undefined && d.verdict !== q.verdict) return false;
  if (q.tool !== undefined && d.tool !== q.tool) return false;
  if (q.rule !== undefined && !(Array.isArray(d.rules) && d.rules.includes(q.rule))) return false;
  return true;
}
