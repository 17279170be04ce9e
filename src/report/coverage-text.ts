/**
 * The terminal line of a coverage report (docs/testing.md, "Coverage"), shared by `proof verify`
 * and `proof test`.
 */
import type { CoverageReport } from "../verify/coverage.js";

/** One line on a run's coverage for the terminal: `coverage: 87.5% of outcomes (7/8), 1 dead rule: x`. */
export function coverageLine(c: CoverageReport): string {
  const verdict =
    c.min_percent === null
      ? ""
      : c.passed
        ? ` (minimum ${c.min_percent}%)`
        : `, below the minimum ${c.min_percent}%`;
  const dead =
    c.dead.length === 0
      ? "no dead rule"
      : `dead: ${c.dead.slice(0, 10).join(", ")}${c.dead.length > 10 ? ", ..." : ""}`;
  return `coverage: ${c.outcomes.percent}% of outcomes (${c.outcomes.covered}/${c.outcomes.total})${verdict}; rules fired ${c.rules.covered}/${c.rules.total}; ${dead}`;
}
