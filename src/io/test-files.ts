import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ProofError } from "../errors.js";
import { isPolicyTestFile } from "../policytest/load.js";
import { isDirectory, toPosix, unreadable } from "./files.js";
import { isProofOutput } from "./out-dir.js";

/**
 * The policy test files of `proof test PATHS...`: a file given is taken as it is; a directory is
 * searched recursively for `*.test.yaml` and `*.test.yml`, skipping `node_modules`, directories
 * whose name starts with a dot, and proof's out dirs. Sorted and without duplicates.
 * @throws ProofError `io.unreadable` for an unreadable directory, `test.none` (exit 6) when nothing is found.
 */
export async function listPolicyTestFiles(paths: readonly string[]): Promise<string[]> {
  const found = new Set<string>();
  const walk = (dir: string): void => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      throw unreadable(dir, err);
    }
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === "node_modules" || entry.name.startsWith(".") || isProofOutput(full)) continue;
        walk(full);
      } else if (entry.isFile() && isPolicyTestFile(entry.name)) found.add(toPosix(full));
    }
  };
  for (const path of paths) {
    // A file named is read as a test file whatever its name; a missing one fails when read.
    if (await isDirectory(path)) walk(path);
    else found.add(toPosix(path));
  }
  if (found.size === 0) {
    throw new ProofError("test.none", `no *.test.yaml file in ${paths.join(", ")}`, {
      location: { file: toPosix(paths[0] ?? ".") },
      hint: "policy tests are files named *.test.yaml (docs/testing.md)",
    });
  }
  return [...found].sort();
}
