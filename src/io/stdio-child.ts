import { spawn } from "node:child_process";
import { constants } from "node:os";
import type { Readable } from "node:stream";

/** How a child process ended: the code to pass on (128+N for signal N), and why. */
export interface StdioChildExit {
  code: number;
  /** `exited with code 3`, `killed by SIGKILL`, `could not start: spawn foo ENOENT`. */
  reason: string;
}

/** A child process spoken to over its standard input and output (an MCP stdio server). */
export interface StdioChild {
  /** Its standard output. */
  readonly stdout: Readable;
  /** Writes to its standard input; false once the pipe is closed (the bytes are dropped then). */
  write(data: string): boolean;
  /** Closes its standard input (the MCP way to ask a stdio server to stop). */
  endInput(): void;
  /** Sends a signal, if it still runs. */
  kill(signal: NodeJS.Signals): void;
  /** Settles once, when the process has ended (or could not start) and its output is read. */
  readonly exited: Promise<StdioChildExit>;
}

/**
 * Starts a command (no shell) with piped standard input and output and its standard error
 * inherited, so a server's own logs reach the user unchanged. Never throws for a command that
 * cannot start: {@link StdioChild.exited} says why (127 not found, 126 not runnable).
 */
export function spawnStdioChild(argv: readonly string[]): StdioChild {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("spawnStdioChild: empty command");
  const child = spawn(file, args, { stdio: ["pipe", "pipe", "inherit"], windowsHide: true });
  let inputOpen = true;
  // A server that dies leaves a broken pipe: writes then fail with EPIPE, which is not our error
  // to raise; its exit is reported through `exited`.
  child.stdin.on("error", () => {
    inputOpen = false;
  });
  const exited = new Promise<StdioChildExit>((resolve) => {
    let settled = false;
    const settle = (e: StdioChildExit) => {
      if (settled) return;
      settled = true;
      inputOpen = false;
      resolve(e);
    };
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (child.pid === undefined)
        settle({ code: err.code === "ENOENT" ? 127 : 126, reason: `could not start: ${err.message}` });
    });
    const describe = (code: number | null, signal: NodeJS.Signals | null): StdioChildExit =>
      signal
        ? { code: 128 + (constants.signals[signal] ?? 0), reason: `killed by ${signal}` }
        : { code: code ?? 1, reason: `exited with code ${code ?? 1}` };
    // `close` waits for the output to be read to its end; a grandchild that keeps the pipe open
    // must not keep us waiting, so `exit` settles too after a short grace.
    child.on("close", (code, signal) => settle(describe(code, signal)));
    child.on("exit", (code, signal) => {
      setTimeout(() => settle(describe(code, signal)), 500).unref();
    });
  });
  return {
    stdout: child.stdout,
    write(data) {
      if (!inputOpen || child.stdin.destroyed) return false;
      child.stdin.write(data);
      return true;
    },
    endInput() {
      if (inputOpen) child.stdin.end();
      inputOpen = false;
    },
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    exited,
  };
}
