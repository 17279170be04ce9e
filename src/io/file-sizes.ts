/**
 * Sizes of trace files, for the worker pool of `proof verify --jobs` (src/api/pool.ts) to hand
 * out its largest files first.
 */
import { statSync } from "node:fs";

/**
 * The size in bytes of each path, in the order given; 0 for a path that cannot be read, whose
 * error reading it reports in its turn. Synchronous: a stat costs a few microseconds, far less
 * than a thread-pool round trip (docs/performance.md).
 */
export function fileSizes(paths: readonly string[]): number[] {
  return paths.map((path) => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  });
}
