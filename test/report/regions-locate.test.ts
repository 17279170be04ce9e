/**
 * RegionFinder#locate (one pass over a document, skipping what no path goes into) answers exactly
 * as parsing the whole document into a syntax tree does, valid JSON or not.
 */
import fc from "fast-check";
import type { Segment } from "jsonc-parser";
import { describe, expect, it } from "vitest";
import { RegionFinder, type RegionRequest, resolveRegions } from "../../src/report/regions.js";

/** Every path of a value, the root's included. */
function pathsOf(value: unknown, prefix: Segment[] = []): Segment[][] {
  const out: Segment[][] = [prefix];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push(...pathsOf(v, [...prefix, i]));
  } else if (value !== null && typeof value === "object")
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}

/** The paths of a value and some that lead nowhere: past a leaf, an index as a key, a key as an index. */
function questions(value: unknown): Segment[][] {
  const paths = pathsOf(value);
  const wrong = paths.flatMap((p) => [
    [...p, "missing"],
    [...p, 0],
    [...p, 99],
    p.map((s) => (typeof s === "number" ? String(s) : s)),
  ]);
  return [...paths, ...wrong];
}

/** Each question answered by a finder that parses the whole tree and by one that locates first. */
function bothWays(text: string, paths: Segment[][]): [unknown[], unknown[]] {
  const texts = new Map([["t.json", text]]);
  const tree = new RegionFinder(texts);
  const located = new RegionFinder(texts);
  located.locate(
    "t.json",
    paths.map((path): RegionRequest => ({ kind: "path", file: "t.json", path })),
  );
  return [paths.map((p) => tree.ofPath("t.json", p)), paths.map((p) => located.ofPath("t.json", p))];
}

describe("RegionFinder#locate", () => {
  it("gives the syntax tree's regions for every path of a JSON document", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom(undefined, 1, 2, "\t"), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        const [tree, located] = bothWays(text, questions(value));
        expect(located).toEqual(tree);
        // The paths of the value itself all have a region.
        expect(located.slice(0, pathsOf(value).length)).not.toContain(undefined);
      }),
      { numRuns: 300 },
    );
  });

  it("gives the syntax tree's regions in a damaged document (the parser's own recovery)", () => {
    const damage = fc.constantFrom("{", "}", "[", "]", ",", ":", '"', "x", "1", "/*", "//", "\n", "");
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.nat(), fc.nat(), damage, (value, at, cut, insert) => {
        const whole = JSON.stringify(value, null, 1);
        const i = at % (whole.length + 1);
        const text = whole.slice(0, i) + insert + whole.slice(i + (cut % 4));
        const [tree, located] = bothWays(text, questions(value));
        expect(located).toEqual(tree);
      }),
      { numRuns: 500 },
    );
  });

  it("takes the first of duplicate keys that has a value, as the tree does", () => {
    const text = '{"a": , "a": {"b": 1}, "a": {"b": 2}, "c": [1, {"d": true}]}';
    const paths: Segment[][] = [["a"], ["a", "b"], ["c", 1, "d"], ["c", 2]];
    const [tree, located] = bothWays(text, paths);
    expect(located).toEqual(tree);
    expect(located[1]).toEqual({ startLine: 1, startColumn: 20, endLine: 1, endColumn: 21 });
  });

  it("is what resolveRegions answers with, the same as without it", async () => {
    const text =
      '{\n  "messages": [\n    {"role": "user"},\n    {"tool_calls": [{"id": "x"}, {"id": "y"}]}\n  ]\n}\n';
    const requests: RegionRequest[] = [
      { kind: "event", file: "t.json", at: "messages[1].tool_calls[1]", seq: 1 },
      { kind: "event", file: "t.json", at: "messages[0]", seq: 0 },
      { kind: "event", file: "t.json", at: "messages[5]", seq: 2 },
      { kind: "file", file: "t.json" },
    ];
    const lookup = await resolveRegions(requests, async () => text);
    const finder = new RegionFinder(new Map([["t.json", text]]));
    expect(lookup.ofEvent({ file: "t.json", at: "messages[1].tool_calls[1]", seq: 1 })).toEqual({
      startLine: 4,
      startColumn: 34,
      endLine: 4,
      endColumn: 45,
    });
    for (const r of requests) if (r.kind === "event") expect(lookup.ofEvent(r)).toEqual(finder.ofEvent(r));
  });
});

describe("RegionFinder on a proof trace", () => {
  it("counts as blank exactly the lines trim leaves empty", () => {
    // Lines between the events: whitespace as trim has it (blank), or not (U+200B, `x`).
    const filler = fc.constantFrom(
      "",
      " ",
      "\t",
      "\r",
      "\u00a0",
      "\u2028",
      "\ufeff",
      "\u3000",
      "\u200b",
      "x",
    );
    fc.assert(
      fc.property(
        fc.array(fc.option(filler, { nil: undefined }), { maxLength: 12 }),
        fc.boolean(),
        (items, end) => {
          let seq = 0;
          const lines = ['{"case_id":"c"}'];
          for (const item of items)
            lines.push(item === undefined ? `{"at":"[${seq}]","seq":${seq++}}` : item);
          const text = lines.join("\n") + (end ? "\n" : "");
          // docs/traces.md's rule, with trim: event seq s is the (s + 2)-th line that is not blank.
          const nonBlank = lines.flatMap((l, i) => (l.trim() === "" ? [] : [i + 1]));
          const finder = new RegionFinder(new Map([["r.jsonl", text]]));
          for (let s = 0; s < seq; s++) {
            const n = nonBlank[s + 1];
            const expected =
              n !== undefined && lines[n - 1] === `{"at":"[${s}]","seq":${s}}`
                ? { startLine: n, startColumn: 1, endLine: n, endColumn: (lines[n - 1] as string).length + 1 }
                : undefined;
            expect(finder.ofEvent({ file: "r.jsonl", at: `[${s}]`, seq: s })).toEqual(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
