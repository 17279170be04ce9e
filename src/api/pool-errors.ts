/**
 * Errors across the threads of the worker pool (src/api/pool.ts): a worker sends the error that
 * stopped a file or a task as data, and the run raises it as it was thrown there.
 */
import { ProofError, ProofErrors, type SourceLocation } from "../errors.js";

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
export function receivedError(sent: SentError): Error {
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
