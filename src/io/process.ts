import { constants } from "node:os";

/** How a wrapped command ended. */
export interface ChildExit {
  /**
   * The exit code to pass through: the command's own code; 128+N when signal N ended it (as a
   * POSIX shell reports it); 127 when the command was not found and 126 when it could not be run
   * (the shell's codes for the same failures).
   */
  code: number;
  /** The ending signal (`SIGTERM`), when one ended it. */
  signal?: string;
  /** Why the command could not be started at all (`spawn foo ENOENT`), when it could not. */
  spawnError?: string;
}

/** Signals a wrapped command receives when proof receives them (Ctrl-C, a CI job cancelled). */
const FORWARDED: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Runs a command (no shell: `argv[0]` is the program, the rest its arguments) with standard input
 * and error inherited, its standard output going to ours, or to our standard error with
 * `stdoutToStderr` (so that `--json` output on stdout stays parseable). Output streams through as
 * it comes. SIGINT, SIGTERM and SIGHUP sent to proof are forwarded to the command, and proof waits
 * for it to end, so a cancelled CI job still ends with the command's own status. Never rejects on
 * a failing command.
 * @returns how the command ended (see {@link ChildExit}).
 */
export async function runChild(
  argv: readonly string[],
  opts: { stdoutToStderr: boolean },
): Promise<ChildExit> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("runChild: empty command");
  // execa costs about 90 ms to import: only commands that run a child load it.
  const { execa } = await import("execa");
  const child = execa(file, args, {
    stdin: "inherit",
    stdout: opts.stdoutToStderr ? 2 : "inherit",
    stderr: "inherit",
    reject: false,
    // The command decides how long a graceful shutdown takes: no SIGKILL after a forwarded signal.
    forceKillAfterDelay: false,
    windowsHide: true,
  });
  const forward = (signal: NodeJS.Signals) => {
    child.kill(signal);
  };
  for (const s of FORWARDED) process.on(s, forward);
  try {
    const result = await child;
    if (typeof result.exitCode === "number") return { code: result.exitCode };
    if (result.signal) {
      const n = constants.signals[result.signal as NodeJS.Signals] ?? 0;
      return { code: 128 + n, signal: result.signal };
    }
    const errno = (result as { code?: string }).code;
    return {
      code: errno === "ENOENT" ? 127 : 126,
      spawnError: result.shortMessage ?? result.message ?? `cannot run ${file}`,
    };
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
  }
}
