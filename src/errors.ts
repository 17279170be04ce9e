/**
 * Errors that cross layer boundaries. Core functions throw {@link ProofError}; only `src/cli`
 * maps them to exit codes (docs/exit-codes.md).
 */

/** Where in a user's file a problem is: 1-based line and column, file relative as given. */
export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
}

/** Error categories of the `--json` envelope; each has one exit code (docs/exit-codes.md). */
export type ErrorCategory = "input" | "integrity" | "dependency" | "environment" | "internal";

/** Exit codes of docs/exit-codes.md keyed by category. */
export const EXIT_CODE: Record<ErrorCategory, number> = {
  internal: 1,
  integrity: 2,
  input: 6,
  dependency: 7,
  environment: 8,
};

/**
 * Error codes of the operating system that mean the machine refused an operation proof was right
 * to attempt (read-only file system, disk full, permission denied, too many open files): exit 8,
 * never 1, which is kept for proof's own bugs.
 */
const ENVIRONMENT_ERRNO: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EFBIG: "file too large for the file system",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
  EIO: "input/output error",
  EBUSY: "resource busy",
  ENAMETOOLONG: "file name too long",
};

/**
 * Turns a Node.js system error (`err.code` such as `ENOSPC`, `err.path`) into a located
 * {@link ProofError} of category `environment` (exit 8) naming the path and the cause in words.
 * @returns undefined when `err` is not such a system error (the caller keeps it as it is).
 */
export function environmentError(err: unknown, what = "write"): ProofError | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  const errno = typeof e?.code === "string" ? e.code : "";
  const reason = Object.hasOwn(ENVIRONMENT_ERRNO, errno) ? ENVIRONMENT_ERRNO[errno] : undefined;
  if (reason === undefined) return undefined;
  const path = typeof e?.path === "string" ? e.path : undefined;
  return new ProofError(
    `io.${errno.toLowerCase()}`,
    `cannot ${what}${path ? ` ${path.split("\\").join("/")}` : ""}: ${reason}`,
    {
      category: "environment",
      ...(path ? { location: { file: path.split("\\").join("/") } } : {}),
      cause: err,
    },
  );
}

/**
 * A user-facing failure with a stable `code` (e.g. `policy.unknown_key`), a category that decides
 * the exit code, an optional hint and an optional location in the user's file.
 */
export class ProofError extends Error {
  readonly code: string;
  readonly category: ErrorCategory;
  readonly hint: string | undefined;
  readonly location: SourceLocation | undefined;

  constructor(
    code: string,
    message: string,
    options: { category?: ErrorCategory; hint?: string; location?: SourceLocation; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ProofError";
    this.code = code;
    this.category = options.category ?? "input";
    this.hint = options.hint;
    this.location = options.location;
  }

  /** Exit code for this error's category. */
  get exitCode(): number {
    return EXIT_CODE[this.category];
  }
}

/** Shorthand for an invalid-input error (exit 6). */
export function inputError(
  code: string,
  message: string,
  location?: SourceLocation,
  hint?: string,
): ProofError {
  return new ProofError(code, message, {
    category: "input",
    ...(location ? { location } : {}),
    ...(hint ? { hint } : {}),
  });
}

/** Formats a location as `file:line:column` (missing parts left out). */
export function formatLocation(loc: SourceLocation | undefined): string {
  if (!loc) return "";
  let s = loc.file;
  if (loc.line !== undefined) {
    s += `:${loc.line}`;
    if (loc.column !== undefined) s += `:${loc.column}`;
  }
  return s;
}

/** Converts a 0-based character offset in `text` to a 1-based line and column. */
export function offsetToLineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/**
 * Several problems of one input found at once (every schema error of a policy or a config, every
 * invalid rule), sorted by position. The first is this error itself (its code, message, hint and
 * location), so that code reading one error keeps working; `errors` lists them all, the first
 * included, and `omitted` counts those found beyond the list's bound.
 */
export class ProofErrors extends ProofError {
  readonly errors: readonly ProofError[];
  readonly omitted: number;

  /** @param errors at least one; the first gives this error's code, message and location. */
  constructor(errors: readonly ProofError[], omitted = 0) {
    const first = errors[0];
    if (first === undefined) throw new TypeError("ProofErrors needs at least one error");
    super(first.code, first.message, {
      category: first.category,
      ...(first.hint ? { hint: first.hint } : {}),
      ...(first.location ? { location: first.location } : {}),
    });
    this.name = "ProofErrors";
    this.errors = errors;
    this.omitted = omitted;
  }
}

/**
 * One error for a list of located problems: the problem itself when there is one, else a
 * {@link ProofErrors} of the first `max` by file, line and column (the order a reader fixes
 * them in), the rest counted.
 */
export function combineErrors(errors: readonly ProofError[], max: number): ProofError {
  const sorted = [...errors].sort(byPosition);
  if (sorted.length === 1) return sorted[0] as ProofError;
  return new ProofErrors(sorted.slice(0, max), Math.max(0, sorted.length - max));
}

/** Orders errors by location: file, then line, then column; errors without one last. */
function byPosition(a: ProofError, b: ProofError): number {
  const fa = a.location?.file ?? "\uffff";
  const fb = b.location?.file ?? "\uffff";
  if (fa !== fb) return fa < fb ? -1 : 1;
  const line = (a.location?.line ?? Infinity) - (b.location?.line ?? Infinity);
  if (line !== 0 && !Number.isNaN(line)) return line;
  const column = (a.location?.column ?? Infinity) - (b.location?.column ?? Infinity);
  return Number.isNaN(column) ? 0 : column;
}

/** One error of the `--json` envelope. */
function errorObject(err: ProofError): object {
  return {
    code: err.code,
    category: err.category,
    message: err.message,
    hint: err.hint ?? null,
    location: err.location
      ? { file: err.location.file, line: err.location.line ?? null, column: err.location.column ?? null }
      : null,
  };
}

/**
 * The `--json` error envelope (docs/cli.md), also the body of every error response of
 * `proof serve` (docs/serve.md): `error` is the first problem, `errors` every problem found (one
 * for most errors; every schema error of a policy), `omitted` how many more were found than
 * listed.
 */
export function errorEnvelope(err: ProofError): object {
  const all = err instanceof ProofErrors ? err.errors : [err];
  return {
    error: errorObject(err),
    errors: all.map(errorObject),
    omitted: err instanceof ProofErrors ? err.omitted : 0,
  };
}
