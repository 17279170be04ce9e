/**
 * Errors that cross layer boundaries. Core functions throw {@link ProofError}; only `src/cli`
 * maps them to exit codes (DESIGN.md §6).
 */

/** Where in a user's file a problem is: 1-based line and column, file relative as given. */
export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
}

/** Error categories of the `--json` envelope; each has one exit code (DESIGN.md §6). */
export type ErrorCategory = "input" | "integrity" | "dependency" | "internal";

/** Exit codes of DESIGN.md §6 keyed by category. */
export const EXIT_CODE: Record<ErrorCategory, number> = {
  internal: 1,
  integrity: 2,
  input: 6,
  dependency: 7,
};

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
