/** Reading the labels of `proof eval` (the format is parsed by src/eval/labels.ts). */
import { dirname, isAbsolute, relative } from "node:path";
import { type LabelSet, parseLabels } from "../eval/labels.js";
import { readTextFile, toPosix, traceLimit } from "./files.js";

/**
 * Reads a labels file. An AgentDojo manifest names each run by its path relative to the
 * manifest (`runs/<model>/...`), while `proof verify` names a case by its path relative to the
 * traces root: so the path from the manifest's directory to each traces root (`runs/`) is
 * removed from the front of a manifest's `file`.
 * The file is named relative to the working directory when it was given absolute.
 * @param traceRoots the `--traces` paths, as given
 * @throws ProofError `io.unreadable`, `io.too_large`, and the errors of {@link parseLabels}.
 */
export async function readLabels(file: string, traceRoots: readonly string[]): Promise<LabelSet> {
  const text = await readTextFile(file, traceLimit());
  const stripPrefixes = traceRoots
    .map((root) => toPosix(relative(dirname(file), root)))
    .filter((rel) => rel !== "" && !rel.startsWith(".."))
    .map((rel) => `${rel}/`);
  // Shown relative to the working directory, as trace paths are: artifacts hold no machine path.
  const shown = toPosix(isAbsolute(file) ? relative(process.cwd(), file) : file);
  return parseLabels(text, shown, { stripPrefixes });
}
