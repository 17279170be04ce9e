/**
 * The chunk merge of the build (scripts/merge-chunks.mjs): which chunks it merges, on small
 * metafiles shaped as esbuild writes them.
 */
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module script without type declarations
import { planMerges } from "../../scripts/merge-chunks.mjs";

type Output = { bytes: number; imports: { path: string; kind: string }[]; entryPoint?: string };

/** A metafile of `outputs`: name → [bytes, static imports, whether an entry point]. */
function metafile(outputs: Record<string, [number, string[], boolean?]>): {
  outputs: Record<string, Output>;
} {
  return {
    outputs: Object.fromEntries(
      Object.entries(outputs).map(([name, [bytes, imports, entry]]) => [
        `dist/${name}`,
        {
          bytes,
          imports: imports.map((i) => ({ path: `dist/${i}`, kind: "import-statement" })),
          ...(entry ? { entryPoint: `src/${name}` } : {}),
        },
      ]),
    ),
  };
}

const plan = (m: ReturnType<typeof metafile>, limit: number): Record<string, string[]> =>
  Object.fromEntries((planMerges as (m: unknown, l: number) => Map<string, string[]>)(m, limit));

describe("planMerges", () => {
  it("merges a small chunk into one that every entry point loading it loads too", () => {
    const m = metafile({
      "a.js": [100, ["small.js", "big.js"], true],
      "b.js": [100, ["big.js"], true],
      "small.js": [500, []],
      "big.js": [50_000, []],
    });
    expect(plan(m, 1000)).toEqual({ "big.js": ["small.js"] });
  });

  it("keeps a chunk apart when its imports would reach entry points that never load them", () => {
    // b loads big without small; small imports readers, which b never loads: merging small into
    // big would make b load readers too (a large chunk, not just small's bytes). It goes into
    // readers instead, whose loaders (a and c) load everything small imports.
    const m = metafile({
      "a.js": [100, ["small.js", "big.js"], true],
      "b.js": [100, ["big.js"], true],
      "c.js": [100, ["readers.js"], true],
      "small.js": [500, ["readers.js"]],
      "readers.js": [100_000, []],
      "big.js": [50_000, []],
    });
    expect(plan(m, 1000)).toEqual({ "readers.js": ["small.js"] });
    // With b loading readers anyway, the merge adds only small's bytes to b.
    const n = metafile({
      "a.js": [100, ["small.js", "big.js"], true],
      "b.js": [100, ["big.js", "readers.js"], true],
      "small.js": [500, ["readers.js"]],
      "readers.js": [100_000, []],
      "big.js": [50_000, []],
    });
    expect(plan(n, 1000)).toEqual({ "big.js": ["small.js"] });
  });

  it("keeps a chunk apart when some entry point loads it without the other", () => {
    const m = metafile({
      "a.js": [100, ["small.js", "big.js"], true],
      "b.js": [100, ["small.js"], true],
      "small.js": [500, []],
      "big.js": [50_000, []],
    });
    expect(plan(m, 1000)).toEqual({});
  });

  it("keeps a chunk larger than the limit apart", () => {
    const m = metafile({
      "a.js": [100, ["mid.js", "big.js"], true],
      "b.js": [100, ["big.js"], true],
      "mid.js": [5000, []],
      "big.js": [50_000, []],
    });
    expect(plan(m, 1000)).toEqual({});
    expect(plan(m, 5000)).toEqual({ "big.js": ["mid.js"] });
  });

  it("makes no import cycle between files", () => {
    // y would do for x (every entry point loading x loads y, and y's name comes first), but x
    // imports z, which imports y: with x and y in one file, that file and z would import each other.
    const m = metafile({
      "a.js": [100, ["x.js", "y.js"], true],
      "b.js": [100, ["y.js", "z.js"], true],
      "x.js": [500, ["z.js"]],
      "z.js": [5000, ["y.js"]],
      "y.js": [50_000, []],
    });
    expect(plan(m, 1000)).toEqual({ "z.js": ["x.js"] });
  });
});
