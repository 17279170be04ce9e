/**
 * Differential test of the two readers behind `parseYaml`: wherever js-yaml's reading is taken
 * (`readFast`), it must be exactly what the `yaml` library alone gives (`parseYamlLibrary`, the
 * reader of policies, waivers and configs before js-yaml): the same value, no error where the
 * library refuses, and the same locations for what is located afterwards. Checked on every YAML
 * file of the project, on generated documents serialized by both libraries, on token soups that
 * mix YAML's indicators, and on hand-written edge cases.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { dump } from "js-yaml";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ProofError } from "../../src/errors.js";
import { compilePolicy } from "../../src/policy/compile.js";
import { locate, type ParsedYaml, parseYaml, parseYamlLibrary, readFast } from "../../src/policy/yaml.js";
import { yamlSoup, yamlValue } from "../helpers/yaml-arbitraries.js";

/** Runs per property; `FUZZ_RUNS=20000 npx vitest run test/policy/yaml-fast.test.ts` searches harder. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

const ROOT = join(import.meta.dirname, "..", "..");

/** Directories of the checkout that are not the project's own files (installed, built, written by runs). */
const NOT_SOURCES = new Set([".git", "node_modules", "dist", "bench-out", "demo-out", "coverage"]);

/** The project's YAML files under `dir` (relative to the root), found by walking the checkout. */
function yamlFiles(dir = ""): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = dir === "" ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!NOT_SOURCES.has(entry.name)) out.push(...yamlFiles(rel));
    } else if (/\.ya?ml$/.test(entry.name)) out.push(rel);
  }
  return out.sort();
}

type Outcome = { value: unknown } | { error: { code: string; message: string; location: unknown } };

function outcome(read: () => ParsedYaml): Outcome {
  try {
    return { value: read().value };
  } catch (err) {
    if (!(err instanceof ProofError)) throw err;
    return { error: { code: err.code, message: err.message, location: err.location } };
  }
}

/** Every path to a node of `value`, keys and indices, parents first. */
function paths(
  value: unknown,
  at: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  out.push(at);
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) paths(v, [...at, i], out);
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) paths(v, [...at, k], out);
  }
  return out;
}

/**
 * Asserts that `parseYaml` reads `text` as the `yaml` library alone does; returns whether js-yaml
 * read it (so that a test can show the fast path was exercised, not only the fallback).
 */
function same(text: string): boolean {
  const fast = readFast(text) !== undefined;
  const got = outcome(() => parseYaml(text, "p.yaml"));
  const want = outcome(() => parseYamlLibrary(text, "p.yaml"));
  // toStrictEqual tells -0 from 0 and a missing key from an undefined one.
  expect(got, JSON.stringify(text)).toStrictEqual(want);
  if (fast && "value" in want) {
    // What is located afterwards (schema errors, compile errors) points at the same places.
    const a = parseYaml(text, "p.yaml");
    const b = parseYamlLibrary(text, "p.yaml");
    for (const p of paths(want.value).slice(0, 50)) {
      expect(locate(a, p), JSON.stringify({ text, p })).toStrictEqual(locate(b, p));
    }
  }
  return fast;
}

describe("parseYaml reads as the yaml library alone", { timeout: Math.max(60_000, RUNS * 100) }, () => {
  it("on every YAML file of the project", () => {
    const files = yamlFiles();
    expect(files.length).toBeGreaterThan(30);
    let fast = 0;
    for (const f of files) if (same(readFileSync(join(ROOT, f), "utf8"))) fast++;
    // Most of them take the fast path: the comparison is not only of the fallback with itself.
    expect(fast).toBeGreaterThan(files.length / 2);
  });

  it("reads every example policy with js-yaml, CEL negations ending a line included", () => {
    const files = yamlFiles("examples/policies");
    expect(files.length).toBeGreaterThan(3);
    let negations = 0;
    for (const f of files) {
      const text = readFileSync(join(ROOT, f), "utf8");
      // `... || !args.x'` ending a line, which the tool-result guard takes for a tag.
      if (/![a-z][\w.]*'[ ]*$/m.test(text)) negations++;
      expect({ f, fast: readFast(text) !== undefined }).toEqual({ f, fast: true });
      // The values are compared on every YAML file above; here the fast value compiles.
      if (!f.endsWith(".test.yaml")) expect(compilePolicy(text, f).policy_digest).toMatch(/^sha256:/);
    }
    expect(negations).toBeGreaterThan(0);
  });

  it("on generated documents serialized by the yaml library (block and flow)", () => {
    let fast = 0;
    fc.assert(
      fc.property(yamlValue, fc.boolean(), (value, flow) => {
        if (same(stringify(value, { collectionStyle: flow ? "flow" : "any" }))) fast++;
      }),
      { numRuns: RUNS },
    );
    expect(fast).toBeGreaterThan(RUNS / 4);
  });

  it("on generated documents serialized by js-yaml (block and flow, quoted strings folded at 20)", () => {
    let fast = 0;
    fc.assert(
      fc.property(yamlValue, fc.integer({ min: -1, max: 3 }), (value, flowLevel) => {
        if (same(dump(value, { flowLevel, skipInvalid: true, lineWidth: 20 }))) fast++;
      }),
      { numRuns: RUNS },
    );
    expect(fast).toBeGreaterThan(RUNS / 4);
  });

  it("on token soups mixing YAML's indicators", () => {
    let fast = 0;
    fc.assert(
      fc.property(yamlSoup, (soup) => {
        if (same(soup)) fast++;
      }),
      { numRuns: RUNS * 10 },
    );
    expect(fast).toBeGreaterThan(RUNS);
  });

  it("on line soups: lines of YAML fragments at random indentation", () => {
    const fragment = fc.constantFrom(
      "a: 1",
      "b:",
      "c: x y",
      "- a",
      "- b: 1",
      "-",
      "d: |",
      "e: >-",
      "f: |+",
      "x",
      "more text",
      "it's",
      'g: "open',
      "h: 'open",
      'close"',
      "close'",
      '"k": v',
      "'k': v",
      "i: [1,",
      "2]",
      "j: {a: 1,",
      "b: 2}",
      "# comment",
      "k: v # comment",
      "",
      "l: 'a''b'",
      'm: "a\\"',
      "n: 0x1F",
      "o: -.5e3",
      "---",
      "...",
      "p: a: b",
      "- - a",
      "? x",
      ": y",
    );
    const line = fc.tuple(fc.integer({ min: 0, max: 6 }), fragment, fc.constantFrom("", " ", "  "));
    let fast = 0;
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 10 }), fc.boolean(), (lines, crlf) => {
        const text = lines.map(([n, f, trail]) => " ".repeat(n) + f + trail).join(crlf ? "\r\n" : "\n");
        if (same(text)) fast++;
      }),
      { numRuns: RUNS * 10 },
    );
    expect(fast).toBeGreaterThan(RUNS / 2);
  });

  it("on hand-written edge cases", () => {
    const cases = [
      // Numbers.
      "a: 0x1F\nb: 0o17\nc: 012\nd: 0b101\ne: +12\nf: 1_000\ng: +0x10\nh: -0x10\ni: -0o7\nj: +.5\nk: 5.\nl: 1e3",
      "a: .inf",
      "a: -.Inf",
      "a: .NaN",
      "a: 1e400",
      "a: -0\nb: 1.50\nc: 0.",
      "a: 9007199254740993",
      "a: 9007199254740991\nb: -9007199254740991",
      "a: 1e20",
      "a: 2001-12-14\nb: yes\nc: No\nd: 1:20",
      // Keys.
      "1: a\n'1': b",
      "true: a\n'true': b",
      "1: a\n1.0: b\ntrue: c\n0x10: d",
      "a: 1\nb: 2\na: 3",
      "{a: 1, a: 2}",
      "__proto__: a",
      "a: {constructor: 1}",
      "[a, b]: c",
      "? a\n: b",
      "null: a",
      "<<: {a: 1}\nb: 2",
      `${"k".repeat(1100)}: v`,
      `a: ${"v".repeat(1100)}`,
      // Empty documents.
      "",
      "# only a comment\n",
      "---\n",
      "---\na: 1\n...\n",
      "a: 1\n---\nb: 2",
      // Quoted scalars on several lines, indented or not (the yaml library refuses the latter).
      'a:\n  b: "x\n  y"',
      'a:\n  b: "x\ny"',
      "a:\n  b: 'x\ny'",
      "- 'x\n  y'",
      'a: "x\\\n  y"',
      // Flow collections on several lines.
      "a:\n  b: [1,\n  2]",
      "a:\n  b: [1,\n2]",
      "a:\n  b: {c: 1,\nd: 2}",
      // Comments glued to a token.
      'a: "x"#c',
      "a: 'x'#c",
      "a: [1]#c",
      "a: {b: 1}#c",
      "a: x#c",
      "a: |#c\n  x",
      "a: >-#c\n  x",
      "a: | #c\n  x",
      "a:  #c\n  >+1\n\n  ",
      "a: #c\n  !!str x",
      // Escapes and odd characters.
      'a: "\\x41\\u00e9\\N\\_\\/\\L\\P"',
      'a: "\\q"',
      "a: 'it''s'\nb: >\n  x\n  y\n\nc: |-\n  x\n",
      "a: x\u0085y\nb: x\u2028y",
      "a: x\r\nb: y\r\n",
      "a: x\rb: y",
      "\uFEFFa: 1",
      "a:\tb",
      // Tags.
      "a: !!str 12",
      "a: !!int '12'",
      "a: !foo bar",
      // Malformed.
      "a: b: c",
      "- a\n-b",
      "a: 'x'y",
      "a: @x",
      "a: `x",
      "a: *b",
      "a: [1, 2,]",
      "a: [b: c]",
      "a:\n- b\n - c",
      "a:\n  b: 1\n c: 2",
      // Anchors and aliases, anywhere a node may start; and what only looks like them.
      "a: &x 1\nb: *x",
      "a: &x\n  b: *x",
      "&x a: 1\nb: *x",
      "&x\na: 1",
      "- &x [1]\n- *x",
      "{a: &x 1, b: *x}",
      "a: # c\n  &x 1\nb: *x",
      "a: !!str &x 1\nb: *x",
      "a: &x !!str 1\nb: *x",
      "a: &&x 1\nb: *&x",
      "a: b &x\nc: 'd && e'\nf: \"*g\"",
      "a: x*y\nb: 'p && q || !r'",
      // Deep nesting.
      `${"[".repeat(200)}${"]".repeat(200)}`,
      `a: ${"[".repeat(99)}${"]".repeat(99)}`,
      `a: ${"[".repeat(100)}${"]".repeat(100)}`,
      // Prose that merely looks like YAML.
      "Note: see http://example.com/?a=1&b=2 for details",
      "description: don't send money\nrules: []",
    ];
    let fast = 0;
    for (const c of cases) if (same(c)) fast++;
    expect(fast).toBeGreaterThan(cases.length / 4);
  });

  it("leaves anchors and aliases to the yaml library, and reads a CEL conjunction with js-yaml", () => {
    for (const text of ["a: &x 1\nb: *x", "&x a: 1", "- &x [1]\n- *x", "a: # c\n  &x 1", "a: &&x 1"]) {
      expect({ text, fast: readFast(text) !== undefined }).toEqual({ text, fast: false });
    }
    const policy = "rules:\n  - id: r\n    when: 'context.a && context.b'\n    match: { tool: t }\n";
    expect(readFast(policy)).toEqual({
      value: { rules: [{ id: "r", when: "context.a && context.b", match: { tool: "t" } }] },
    });
  });
});
