/**
 * Small pieces of English and shell that several reports share: counts that say what they count,
 * and a command line a reader can paste.
 */

/**
 * `n` and the noun it counts, singular for exactly one: `count(1, "trace")` is `1 trace`,
 * `count(3, "tool call")` is `3 tool calls`. `plural` defaults to the noun plus `s`.
 */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

/** Characters a POSIX shell word may hold unquoted (no expansion, no word splitting). */
const SHELL_SAFE = /^[A-Za-z0-9_./:=@%+,-]+$/;

/**
 * One argument as a POSIX shell word: as it is when it holds only safe characters, else between
 * single quotes, each `'` written as `'\''`. The empty string is `''`.
 */
export function shellWord(arg: string): string {
  if (SHELL_SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, "'\\''")}'`;
}

/** A command line of POSIX shell words ({@link shellWord}), separated by spaces. */
export function shellCommand(args: readonly string[]): string {
  return args.map(shellWord).join(" ");
}
