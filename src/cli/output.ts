import { formatLocation, ProofError } from "../errors.js";

/** Options every command takes. */
export interface GlobalOptions {
  json?: boolean;
  quiet?: boolean;
  color?: boolean;
}

/** Whether to colour terminal output: a TTY, no `NO_COLOR`, no `--no-color`. */
export function useColor(opts: GlobalOptions): boolean {
  return opts.color !== false && process.stdout.isTTY === true && !process.env.NO_COLOR;
}

/** The `--json` error envelope of DESIGN.md §6. */
export function errorEnvelope(err: ProofError): object {
  return {
    error: {
      code: err.code,
      category: err.category,
      message: err.message,
      hint: err.hint ?? null,
      location: err.location
        ? { file: err.location.file, line: err.location.line ?? null, column: err.location.column ?? null }
        : null,
    },
  };
}

/**
 * Reports an error: one readable line on stderr (`proof: file:line:col: message`), or the JSON
 * envelope on stdout with `--json`. Returns the exit code.
 */
export function reportError(err: unknown, opts: GlobalOptions): number {
  const e =
    err instanceof ProofError
      ? err
      : new ProofError("internal", err instanceof Error ? err.message : String(err), {
          category: "internal",
        });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(errorEnvelope(e))}\n`);
  } else {
    const where = formatLocation(e.location);
    process.stderr.write(`proof: ${where ? `${where}: ` : ""}${e.message}\n`);
    if (e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
    if (e.category === "internal" && err instanceof Error && err.stack && process.env.PROOF_DEBUG) {
      process.stderr.write(`${err.stack}\n`);
    }
  }
  return e.exitCode;
}
