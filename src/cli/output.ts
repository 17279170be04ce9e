import { environmentError, formatLocation, ProofError } from "../errors.js";

/** Options every command takes. */
export interface GlobalOptions {
  json?: boolean;
  quiet?: boolean;
  color?: boolean;
  /** `--config FILE`: option values from a `proof.config.yaml` (src/cli/config.ts). */
  config?: string;
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
 * Makes text one inert line for stderr: line breaks and other control characters become spaces,
 * and `##[` becomes `#\x23[`. Messages quote trace content (call ids, case ids), and a line break
 * followed by `::error::` would otherwise be a workflow command in a CI log, as would `##[`
 * anywhere in the line (the runner still obeys the legacy `##[command]` syntax).
 */
export function oneLine(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
      .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, " ")
      .replace(/##\[/g, "#\\x23[")
  );
}

/**
 * Reports an error: one readable line on stderr (`proof: file:line:col: message (hint: ...)`), or
 * the JSON envelope on stdout with `--json`. Returns the exit code.
 */
export function reportError(err: unknown, opts: GlobalOptions): number {
  const e =
    err instanceof ProofError
      ? err
      : (environmentError(err, "use") ??
        new ProofError("internal", err instanceof Error ? err.message : String(err), {
          category: "internal",
        }));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(errorEnvelope(e))}\n`);
  } else {
    // One line, hint included, so that CI logs and `2>&1 | tail -1` keep the whole error.
    const where = formatLocation(e.location);
    process.stderr.write(
      `${oneLine(`proof: ${where ? `${where}: ` : ""}${e.message}${e.hint ? ` (hint: ${e.hint})` : ""}`)}\n`,
    );
    if (e.category === "internal" && err instanceof Error && err.stack && process.env.PROOF_DEBUG) {
      process.stderr.write(`${err.stack}\n`);
    }
  }
  return e.exitCode;
}
