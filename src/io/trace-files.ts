import { isAbsolute, join, relative } from "node:path";
import type { TraceSource } from "../trace/read.js";
import { type FoundFile, listTraceFiles, readLines, readTextFile, toPosix } from "./files.js";
import { isProofOutput } from "./out-dir.js";

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

/**
 * The trace files of a gate under `root` (see {@link listTraceFiles}), without those inside an
 * out dir or a staging directory of proof below `root`: `--traces . --out proof-out` must not read
 * its own artifacts (`report.json`, `decisions.jsonl`), this run's or an earlier one's, as traces.
 * `root` itself is never skipped: naming a directory is asking for it.
 * @throws ProofError `io.unreadable` when `root` does not exist.
 */
export async function listGateTraceFiles(root: string): Promise<FoundFile[]> {
  const found = await listTraceFiles(root);
  const skipped = new Map<string, boolean>();
  const inOutput = (rel: string): boolean => {
    const parts = rel.split("/");
    let dir = "";
    for (const part of parts.slice(0, -1)) {
      dir = dir === "" ? part : `${dir}/${part}`;
      let skip = skipped.get(dir);
      if (skip === undefined) {
        skip = isProofOutput(join(root, dir));
        skipped.set(dir, skip);
      }
      if (skip) return true;
    }
    return false;
  };
  return found.filter((f) => !inOutput(f.rel));
}
