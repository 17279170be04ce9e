/**
 * How far past its live size V8 lets a heap grow before its next full collection, in percent, for
 * the commands that read a whole corpus (`BATCH_COMMANDS`): 100, a heap at most about twice what
 * a full collection left alive.
 *
 * Left to itself, V8 picks this factor after each full collection from how fast collections run
 * against the program, up to 4 when they are cheap, which they are for `proof verify`: its live
 * heap stays small (tens of MiB) while it allocates garbage for every trace. Each isolate keeps
 * such a margin, so a run over a large corpus with worker threads peaked at several times its
 * live data (docs/performance.md, "Memory"). At 100 the peak follows the live heap, for about the
 * same time: full collections here mark a small heap, mostly on a helper thread.
 */
export const HEAP_GROWING_PERCENT = 100;

/** Top-level commands that read a corpus in one run, and so get {@link limitHeapGrowth}. */
export const BATCH_COMMANDS: ReadonlySet<string> = new Set([
  "verify",
  "regress",
  "merge",
  "run",
  "import",
  "eval",
  "adapt",
]);

/**
 * Sets V8's heap growing factor for this process ({@link HEAP_GROWING_PERCENT}): a V8 flag,
 * shared by the process's isolates, worker threads included, and read each time a full
 * collection sets the next limit, so it takes effect from the next collection on. A flag given to
 * `node` itself (`node --heap-growing-percent=N`) is left as it is. `node:v8` is imported here,
 * not at start: loading it costs 2 to 4 ms, which `proof check` and `proof --version` need not pay.
 *
 * @param execArgv the Node options of the process (`process.execArgv`)
 */
export async function limitHeapGrowth(execArgv: readonly string[] = process.execArgv): Promise<void> {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a))) return;
  const { setFlagsFromString } = await import("node:v8");
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
