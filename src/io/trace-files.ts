import { isAbsolute, relative } from "node:path";
import type { TraceSource } from "../trace/read.js";
import { type FoundFile, readLines, readTextFile, toPosix } from "./files.js";

/**
 * Gives the trace reader access to one found file. `path` is made relative to the working
 * directory when it was given absolute, so reports never hold a machine's absolute paths.
 */
export function traceSource(found: FoundFile): TraceSource {
  const shown = isAbsolute(found.path) ? toPosix(relative(process.cwd(), found.path)) : found.path;
  return {
    path: shown,
    rel: found.rel,
    text: () => readTextFile(found.path),
    lines: () => readLines(found.path),
  };
}
