/**
 * How hard the guard's property tests search: 1,000 random sessions each, or `GUARD_RUNS` for a
 * deeper search (`GUARD_RUNS=60000 npx vitest run test/guard`).
 */

function runs(): number {
  const given = process.env.GUARD_RUNS;
  if (given === undefined || given === "") return 1000;
  const n = Number(given);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`GUARD_RUNS must be a whole number of runs, not '${given}'`);
  return n;
}

/** Random sessions per property test. */
export const GUARD_RUNS = runs();

/**
 * Milliseconds one property test may take: vitest's 60 s for the default 1,000 runs, and as much
 * again per 1,000 runs past them, so that a deeper search ends with its answer, not a timeout.
 */
export const GUARD_TIMEOUT = Math.max(60_000, 60 * GUARD_RUNS);
