import { environmentError, errorEnvelope, formatLocation, ProofError, ProofErrors } from "../errors.js";

// The envelope is shared with `proof serve`, whose error responses carry the same JSON.
export { errorEnvelope };

/** Options every command takes. */
export interface GlobalOptions {
  json?: boolean;
  quiet?: boolean;
  /** `--color` true, `--no-color` false, neither undefined. */
  color?: boolean;
  /** `--config FILE`: option values from a `proof.config.yaml` (src/cli/config.ts). */
  config?: string;
}

/**
 * Whether to colour terminal output. In order, the first that applies decides:
 * `--no-color` or a non-empty `NO_COLOR` (https://no-color.org): never; `--color`: always;
 * a non-empty `FORCE_COLOR` (`0` or `false`: never, any other value: always, so that CI logs,
 * which are no terminal, can be coloured); else only when stdout is a terminal.
 * @param env the environment (default process.env); @param isTTY whether stdout is a terminal.
 */
export function useColor(
  opts: GlobalOptions,
  env: NodeJS.ProcessEnv = process.env,
  isTTY: boolean = process.stdout.isTTY === true,
): boolean {
  if (opts.color === false || (env.NO_COLOR !== undefined && env.NO_COLOR !== "")) return false;
  if (opts.color === true) return true;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== "") return force !== "0" && force.toLowerCase() !== "false";
  return isTTY;
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

/** The one stderr line of an error: `proof: FILE:LINE:COLUMN: message (hint: ...)`. */
export function errorLine(e: ProofError): string {
  // One line, hint included, so that CI logs and `2>&1 | tail -1` keep the whole error.
  const where = formatLocation(e.location);
  return `${oneLine(`proof: ${where ? `${where}: ` : ""}${e.message}${e.hint ? ` (hint: ${e.hint})` : ""}`)}\n`;
}

/**
 * Reports an error: one readable line per problem on stderr, or the JSON envelope, alone, on
 * stdout with `--json`. Returns the exit code: that of the error's category, 0 and nothing
 * printed for a write to a closed pipe (see {@link guardStandardStreams}).
 */
export function reportError(err: unknown, opts: GlobalOptions): number {
  // The reader of stdout has gone (`proof import | head -1`): it took what it wanted.
  if (isClosedPipe(err)) return 0;
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
    for (const one of e instanceof ProofErrors ? e.errors : [e]) process.stderr.write(errorLine(one));
    if (e instanceof ProofErrors && e.omitted > 0)
      process.stderr.write(`proof: and ${e.omitted} more error${e.omitted === 1 ? "" : "s"}\n`);
    if (e.category === "internal" && err instanceof Error && err.stack && process.env.PROOF_DEBUG) {
      process.stderr.write(`${err.stack}\n`);
    }
  }
  return e.exitCode;
}

/** Whether the reader of stdout has gone (`proof import | head -1`): later output is dropped. */
let stdoutGone = false;
/** Exit code forced by a standard stream that failed for another reason than a closed pipe. */
let streamFailure: number | undefined;

/** Whether stdout's reader has closed the pipe: a command may stop producing output for it. */
export function stdoutClosed(): boolean {
  return stdoutGone;
}

/**
 * Whether `err` is a write to a pipe whose reader has gone (`EPIPE`, or a write to stdout after
 * that): the quiet end of `proof ... | head -1`, not a failure of proof.
 */
export function isClosedPipe(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "EPIPE" || (stdoutGone && code === "ERR_STREAM_DESTROYED");
}

/**
 * Keeps a closed stdout or stderr from ending proof with a stack trace and exit 1, as Node's
 * default does with an unhandled stream error. When the reader of a stream goes away (`EPIPE`,
 * `proof verify --json | head -1`), writes to it are dropped from then on and the command runs
 * to its end: a gate still writes its whole out dir, and proof exits with the code it would
 * have had (docs/cli.md). Any other error of a stream (disk full behind a redirection) is one
 * line on stderr when it still works, and exit 8.
 */
export function guardStandardStreams(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (isClosedPipe(err) || err.code === "ERR_STREAM_DESTROYED") {
        if (stream === process.stdout) stdoutGone = true;
        stream.write = (() => true) as typeof stream.write;
        return;
      }
      streamFailure = 8;
      stream.write = (() => true) as typeof stream.write;
      const e = environmentError(err, `write standard ${stream === process.stdout ? "output" : "error"}`);
      if (stream !== process.stderr)
        process.stderr.write(`proof: ${e?.message ?? `cannot write standard output: ${err.message}`}\n`);
    });
  }
}

/** The exit code a failed standard stream forces (8), if one failed other than by a closed pipe. */
export function streamExitCode(): number | undefined {
  return streamFailure;
}
