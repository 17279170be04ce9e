/**
 * The repository stands alone: no file a user receives (docs, code, comments, scripts, schemas,
 * templates) cites a design file that is not in it or a path outside the repository.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./e2e/cli.js";

const TEXT = /\.(ts|mjs|js|sh|md|json|ya?ml)$/;

function trackedFiles(): string[] {
  try {
    return execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" })
      .split("\n")
      .filter((f) => TEXT.test(f) && !f.startsWith("fixtures/corpus/"));
  } catch {
    return [];
  }
}

describe("the repository stands alone", () => {
  const files = trackedFiles();

  it.skipIf(files.length === 0)("cites no DESIGN.md and no ../shared path (needs git)", () => {
    const offenders: string[] = [];
    for (const file of files) {
      if (file === "test/self-contained.test.ts") continue;
      const text = readFileSync(join(ROOT, file), "utf8");
      text.split("\n").forEach((line, i) => {
        if (/DESIGN\.md|DESIGN §|\.\.\/shared\//.test(line)) offenders.push(`${file}:${i + 1}`);
      });
    }
    expect(offenders).toEqual([]);
  });
});
