import type { GlobalOptions } from "./output.js";

/** Least time between two redraws of the progress line, in milliseconds. */
export const PROGRESS_INTERVAL_MS = 100;

/**
 * Whether the environment is a CI job: `CI` set to anything but empty, `0` or `false` (GitHub,
 * GitLab, CircleCI, Jenkins' plugins and most others set `CI=true`).
 */
export function isCI(env: NodeJS.ProcessEnv): boolean {
  const value = env.CI;
  return value !== undefined && value !== "" && value !== "0" && value.toLowerCase() !== "false";
}

/**
 * Whether a long run shows its progress: only for a person watching a terminal, so never when
 * stderr is no terminal (a log file, a pipe), in CI (its log keeps every redraw), with `--quiet`
 * or with `--json` (a program reads the output).
 * @param isTTY whether stderr is a terminal.
 */
export function showsProgress(opts: GlobalOptions, env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  return isTTY && !isCI(env) && opts.quiet !== true && opts.json !== true;
}

/** `1 trace`, `2 traces`. */
function count(n: number, noun: string): string {
  return `${n.toLocaleString("en-US")} ${noun}${n === 1 ? "" : "s"}`;
}

/**
 * One line on stderr, redrawn in place (`\r`), saying how many traces and tool calls have been
 * judged; erased when the run ends, so that the result that follows starts on a clean line. The
 * first tick draws at once, later ones at most every {@link PROGRESS_INTERVAL_MS}.
 */
export class Progress {
  private traces = 0;
  private calls = 0;
  private last = -Infinity;
  private drawn = false;

  /**
   * @param write where the line goes (stderr).
   * @param now the clock in milliseconds (injected by tests).
   */
  constructor(
    private readonly write: (text: string) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Counts one judged trace of `calls` tool calls, and redraws when it is time. */
  trace(calls: number): void {
    this.traces++;
    this.calls += calls;
    const t = this.now();
    if (t - this.last < PROGRESS_INTERVAL_MS) return;
    this.last = t;
    this.drawn = true;
    this.write(`\r\x1b[Kproof: judged ${count(this.traces, "trace")}, ${count(this.calls, "tool call")}`);
  }

  /** Erases the line, if one was drawn. */
  done(): void {
    if (this.drawn) this.write("\r\x1b[K");
    this.drawn = false;
  }
}

/** The reporter of the command being run, when it shows progress. */
let current: Progress | undefined;

/**
 * Decides, once the global options are parsed, whether the command about to run shows progress
 * on stderr ({@link showsProgress}).
 */
export function configureProgress(opts: GlobalOptions): void {
  current = showsProgress(opts, process.env, process.stderr.isTTY === true)
    ? new Progress((text) => process.stderr.write(text))
    : undefined;
}

/** The progress reporter of the command being run, or undefined when it shows none. */
export function progress(): Progress | undefined {
  return current;
}
