/**
 * Differential test of the two YAML readers of tool results: wherever `parseStructured` reads a
 * text with js-yaml, the value (and so every leaf `contentLeaves` gives) must equal what the
 * `yaml` library alone gave, the reader of tool results before js-yaml. Checked on every tool
 * result of the real corpus, on generated documents serialized by both libraries, on token soups
 * that mix YAML's indicators, and on hand-written edge cases.
 */

import fc from "fast-check";
import { dump } from "js-yaml";
import { describe, expect, it } from "vitest";
import { parseDocument, stringify } from "yaml";
import {
  contentLeaves,
  MAX_CONTENT_DEPTH,
  parseStructured,
  readYamlLibrary,
} from "../../src/verify/content.js";
import { yamlCollection, yamlSoup } from "../helpers/yaml-arbitraries.js";
import { AGENTDOJO_RUNS, corpusFiles, readAll, TAU_BENCH_FILE } from "../trace/helpers.js";

/** Runs per property; `FUZZ_RUNS=5000 npx vitest run test/verify/content-yaml.test.ts` searches harder. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

function depthOver(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== "object") return false;
  if (limit === 0) return true;
  return Object.values(value).some((v) => depthOver(v, limit - 1));
}

/** `parseStructured` as it was with the `yaml` library alone: the reference of the comparison. */
function reference(text: string): unknown {
  const t = text.trim();
  if (t === "") return undefined;
  let value: unknown;
  if (t[0] === "{" || t[0] === "[") {
    try {
      value = JSON.parse(t);
    } catch {
      value = undefined;
    }
  }
  if (value === undefined) {
    if (!t.includes(":") && !t.startsWith("-") && t[0] !== "{" && t[0] !== "[") return undefined;
    value = readYamlLibrary(t);
  }
  if (value === null || typeof value !== "object") return undefined;
  return depthOver(value, MAX_CONTENT_DEPTH) ? undefined : value;
}

function same(text: string): void {
  const got = parseStructured(text);
  const want = reference(text);
  // toStrictEqual tells -0 from 0 and a missing key from an undefined one.
  expect(got, JSON.stringify(text)).toStrictEqual(want);
  if (got !== undefined) expect(contentLeaves(got)).toStrictEqual(contentLeaves(want));
}

/**
 * Like {@link same}, except that js-yaml may read text the yaml library rejects with an error (a
 * quoted string continued at column 0, a comment glued to a token...: docs/policy.md documents
 * it); never the other way round, and never to another value.
 */
function sameOrLenient(text: string): "same" | "lenient" {
  const got = parseStructured(text);
  const want = reference(text);
  if (got !== undefined && want === undefined) {
    const t = text.trim();
    const errors = parseDocument(t, { uniqueKeys: false, prettyErrors: false, strict: false }).errors;
    expect(errors.length, JSON.stringify(text)).toBeGreaterThan(0);
    return "lenient";
  }
  same(text);
  return "same";
}

describe("js-yaml and the yaml library read tool results alike", () => {
  it("on every tool result of the real corpus (AgentDojo YAML, tau-bench JSON)", async () => {
    let results = 0;
    let structured = 0;
    for (const root of [AGENTDOJO_RUNS, TAU_BENCH_FILE]) {
      for (const file of await corpusFiles(root)) {
        for (const trace of await readAll(file.source)) {
          for (const e of trace.events) {
            if (e.type !== "tool_result") continue;
            results++;
            same(e.content);
            if (parseStructured(e.content) !== undefined) structured++;
          }
        }
      }
    }
    // The corpus is not empty and most of its results are structured: the check compared values.
    expect(results).toBeGreaterThan(1000);
    expect(structured).toBeGreaterThan(results / 3);
  });

  it("on generated documents serialized by the yaml library (block and flow)", () => {
    fc.assert(
      fc.property(yamlCollection, fc.boolean(), (value, flow) => {
        same(stringify(value, { collectionStyle: flow ? "flow" : "any" }));
      }),
      { numRuns: RUNS },
    );
  });

  it("on generated documents serialized by js-yaml (block and flow)", () => {
    fc.assert(
      fc.property(yamlCollection, fc.integer({ min: -1, max: 3 }), (value, flowLevel) => {
        same(dump(value, { flowLevel, skipInvalid: true }));
      }),
      { numRuns: RUNS },
    );
  });

  it("on token soups mixing YAML's indicators: the same value, or js-yaml reads what the yaml library rejects", () => {
    const seen = { same: 0, lenient: 0 };
    fc.assert(
      fc.property(yamlSoup, (soup) => {
        seen[sameOrLenient(soup)]++;
      }),
      { numRuns: RUNS * 10 },
    );
    // Leniency is the rare exception: most soups that either reads compare as equal.
    expect(seen.same).toBeGreaterThan(seen.lenient * 10);
  });

  it("on hand-written edge cases", () => {
    const cases = [
      // Numbers: the core schema reads 0x/0o and signs on decimals only; no binary, no underscores.
      "a: 0x1F\nb: 0o17\nc: 012\nd: 0b101\ne: +12\nf: 1_000\ng: +0x10\nh: -0x10\ni: -0o7\nj: +.5\nk: 5.\nl: 1e3",
      "a: .inf\nb: -.Inf\nc: .NaN\nd: -0\ne: 9007199254740993\nf: 1.50\ng: 0.",
      "a: 2001-12-14\nb: 2001-12-14t21:59:43.10-05:00\nc: yes\nd: No\ne: 1:20",
      // Keys that are not strings.
      "1: a\n1.0: b\ntrue: c\n0x10: d\n.inf: e",
      "null: a\nb: 1",
      "~: a",
      "{null: a, b: 1}",
      "[a, b]: c",
      "{a: 1}: c",
      "? [a, b]\n: c",
      "? a\n: b",
      ": a",
      "__proto__: a\nb: {__proto__: c}",
      "<<: {a: 1}\nb: 2",
      // Duplicate keys: the last value wins, at the first key's place.
      "a: 1\nb: 2\na: 3",
      "{a: 1, a: 2}",
      // Streams, directives, tags.
      "a: x\n---\nb: y",
      "---\na: 1\n...",
      "%YAML 1.1\n---\na: yes",
      "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1",
      "a: !!binary aGVsbG8=",
      "a: !foo bar",
      "a: !!str 12\nb: !!int '12'\nc: !!float '1'\nd: !!int 0b1\ne: !!null ''",
      "!!null '': a",
      // Tabs and odd whitespace.
      "\ta: 1",
      "a:\n\t- x",
      "a: |\n\tx",
      "a:\tb\nc: 'x\ty'",
      "\uFEFFa: 1",
      "a: x\u0085y\nb: x\u2028y",
      "a: x\r\nb: y\r\n",
      // Scalars.
      'a: "\\x41\\u00e9\\N\\_\\/\\L\\P"',
      "a: 'it''s'\nb: >\n  x\n  y\n\nc: |-\n  x\n",
      'a: "x\n  y"\nb:\n  c\n  d',
      "a: x #c\nb: x#c",
      `a: ${"k".repeat(1100)}\n${"k".repeat(1100)}: v`,
      // Malformed.
      "a: b: c",
      "- a\n-b",
      "a: 'x'y",
      "a: @x",
      "a: *b",
      "a: [1, 2,]\nb: {c, d}\ne: [f: g]",
      "{~}",
      "{a, null}",
      "- - \n- ",
      "- \t!!str a",
      "- !!str \n  null",
      "#c:\n\uFEFF? a",
      "- - \r\n- ",
      "- - #\n- a",
      "- !!str \r\n  null",
      // Anchors: the yaml library reads them, with its alias limit.
      "a: &x 1\nb: *x",
      "a: &x [1, 2]\nb: *x",
      "- &x\n  k: v\n- *x",
      // Prose that merely looks like YAML.
      "Note: see http://example.com/?a=1&b=2 for details",
      "Q&A: yes? no: maybe",
      "Error: not found",
    ];
    for (const c of cases) same(c);
  });
});

describe("aliases", () => {
  it("a billion-laughs text stays bounded and unstructured", () => {
    const lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i <= 8; i++)
      lines.push(
        `${"abcdefghi"[i]}: &${"abcdefghi"[i]} [${Array(10)
          .fill(`*${"abcdefghi"[i - 1]}`)
          .join(", ")}]`,
      );
    // js-yaml would return shared references, 10^9 leaves deep in 9 levels: the yaml library refuses.
    expect(parseStructured(lines.join("\n"))).toBeUndefined();
  });

  it("text with an anchor is read by the yaml library, within its alias limit", () => {
    expect(parseStructured("a: &x 1\nb: *x")).toStrictEqual({ a: 1, b: 1 });
    // 101 expansions of one anchor: over the limit of 100, so not structured; js-yaml has no limit.
    const many = ["- &x v", ...Array(101).fill("- *x")].join("\n");
    expect(parseStructured(many)).toBeUndefined();
    expect(reference(many)).toBeUndefined();
  });
});
