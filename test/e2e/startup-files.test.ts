/**
 * The number of files a command loads at start (docs/performance.md, "Start-up"): the build
 * merges small chunks into chunks loaded with them (scripts/merge-chunks.mjs), each module still
 * in exactly one file, and no two files importing each other.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { staticClosure, staticImports } from "../helpers/bundle.js";
import { ROOT } from "./cli.js";

const dist = join(ROOT, "dist");
const files = readdirSync(dist).filter((f) => f.endsWith(".js"));

/** The one bundle file whose name starts with `prefix` (`check-` for dist/check-HASH.js). */
function distFile(prefix: string): string {
  const found = files.filter((f) => f.startsWith(prefix));
  expect(found).toHaveLength(1);
  return found[0] as string;
}

describe("files loaded at start", () => {
  it("proof check loads at most 12 files, --version at most 4", () => {
    // Before the merge: 31 and 8. The config reader is imported before every command runs.
    const check = new Set([
      ...staticClosure("proof.js"),
      ...staticClosure(distFile("check-")),
      ...staticClosure(distFile("config-")),
    ]);
    expect(check.size).toBeLessThanOrEqual(12);
    expect(staticClosure("proof.js").size).toBeLessThanOrEqual(4);
  });

  it("defines each module once: one ProofError class, one exit-code table", () => {
    for (const marker of ["var ProofError = class extends Error", "var EXIT_CODE = {"]) {
      const holders = files.filter((f) => readFileSync(join(dist, f), "utf8").includes(marker));
      expect({ marker, holders: holders.length }).toEqual({ marker, holders: 1 });
    }
  });

  it("has no cycle of static imports between files", () => {
    const state = new Map<string, "open" | "done">();
    const cycle: string[] = [];
    const visit = (f: string, path: string[]): boolean => {
      if (state.get(f) === "done") return false;
      if (state.get(f) === "open") {
        cycle.push(...path.slice(path.indexOf(f)), f);
        return true;
      }
      state.set(f, "open");
      for (const i of staticImports(f)) if (visit(i, [...path, f])) return true;
      state.set(f, "done");
      return false;
    };
    for (const f of files) if (visit(f, [])) break;
    expect(cycle).toEqual([]);
  });
});
