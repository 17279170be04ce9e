/**
 * The library API (src/api) and the server (src/serve) are what the commands call, never the
 * other way round: neither imports anything of src/cli.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../e2e/cli.js";

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("layers of the API and the server", () => {
  it("src/api and src/serve import nothing from src/cli", () => {
    const files = ["api", "serve"].flatMap((d) => sources(join(ROOT, "src", d)));
    expect(files.length).toBeGreaterThanOrEqual(10);
    const offenders: string[] = [];
    for (const file of files) {
      for (const m of readFileSync(file, "utf8").matchAll(/(?:from\s+|import\()\s*["']([^"']+)["']/g))
        if (/(^|\/)cli\//.test(m[1] as string)) offenders.push(`${file.slice(ROOT.length)}: ${m[1]}`);
    }
    expect(offenders).toEqual([]);
  });
});
