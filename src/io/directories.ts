/**
 * Directory listing for `proof attest verify`: the directories of an out dir, which the file
 * digests of src/io/artifacts.ts cannot show (an empty directory holds no file to digest).
 */
import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { ProofError } from "../errors.js";
import { toPosix } from "./files.js";

/**
 * Every directory under `dir`, recursively, as `/`-separated paths relative to `dir`, sorted.
 * Symbolic links are not followed (a link to a directory is an entry, not a directory here; the
 * file digests already refuse it as no regular file), so a link loop cannot make this run forever.
 * @throws ProofError `io.unreadable` (exit 6) when a directory cannot be read.
 */
export async function listDirectories(dir: string): Promise<string[]> {
  const found: string[] = [];
  const pending = [""];
  for (let sub = pending.pop(); sub !== undefined; sub = pending.pop()) {
    let entries: Dirent[];
    try {
      entries = await readdir(join(dir, sub), { withFileTypes: true });
    } catch (err) {
      const path = toPosix(join(dir, sub));
      throw new ProofError("io.unreadable", `cannot read ${path}: ${String(err)}`, {
        location: { file: path },
        cause: err,
      });
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const rel = sub === "" ? e.name : `${sub}/${e.name}`;
      found.push(rel);
      pending.push(rel);
    }
  }
  return found.sort();
}
