/**
 * Golden tests of the importers (fixtures/formats/README.md): the built CLI must turn each
 * hand-written source file into exactly the canonical JSON Lines under `expected/`. This test
 * only reads `expected/`; regenerating means running `proof --quiet import FILE` and re-checking.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { proof } from "../e2e/cli.js";
import { FORMAT_FIXTURES } from "./helpers.js";

/** The formats whose fixtures this test covers. */
const FORMATS = ["openai-responses", "anthropic", "mcp", "openai"] as const;

/** Source files of one format directory (everything but `expected/`). */
function sources(format: string): string[] {
  const dir = join(FORMAT_FIXTURES, format);
  return readdirSync(dir)
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

function stem(file: string): string {
  return file.replace(/\.jsonl?$/, "");
}

describe.each(FORMATS)("%s fixtures", (format) => {
  const files = sources(format);

  it("have one expected file per source and no other", () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
    const expected = readdirSync(join(FORMAT_FIXTURES, format, "expected")).sort();
    expect(expected).toEqual(files.map((f) => `${stem(f)}.jsonl`).sort());
  });

  it.each(files)("import %s byte for byte, detected as the format", async (file) => {
    const dir = join(FORMAT_FIXTURES, format);
    const r = await proof(["--quiet", "import", file], dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(dir, "expected", `${stem(file)}.jsonl`), "utf8"));
    // Named explicitly, the format reads the same bytes.
    const named = await proof(["--quiet", "import", "--format", format, file], dir);
    expect(named.stdout).toBe(r.stdout);
    for (const line of r.stdout.trimEnd().split("\n")) {
      const v = JSON.parse(line) as { type: string; source?: { format: string } };
      if (v.type === "trace") expect(v.source?.format).toBe(format);
    }
  });
});
