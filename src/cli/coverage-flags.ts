import { inputError } from "../errors.js";

/**
 * Parses `--min-coverage PCT` (`proof verify`, `proof test`): a number from 0 to 100 (a trailing
 * `%` allowed).
 * @throws ProofError `usage.min_coverage` (exit 6).
 */
export function parseMinCoverage(value: string): number {
  const text = value.endsWith("%") ? value.slice(0, -1) : value;
  const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 0 && n <= 100)) {
    throw inputError(
      "usage.min_coverage",
      `--min-coverage must be a percentage from 0 to 100, not '${value}'`,
    );
  }
  return n;
}

/** The coverage asked for by `--coverage` and `--min-coverage` (which implies it), if any. */
export function coverageInput(opts: { coverage?: boolean; minCoverage?: string }): {
  coverage?: { min: number | null };
} {
  if (opts.minCoverage !== undefined) return { coverage: { min: parseMinCoverage(opts.minCoverage) } };
  return opts.coverage === true ? { coverage: { min: null } } : {};
}
