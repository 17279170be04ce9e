import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CanonicalArrayHash, canonicalJson, digestOf, prettyJson } from "../../src/io/canonical.js";

/**
 * The same members inserted in reverse order, at every level. `Object.fromEntries` defines each
 * key as an own property: an assignment would set the prototype for a `__proto__` key, which
 * `fc.jsonValue` generates now and then (as JSON.parse keeps it, an own property).
 */
function reversed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversed);
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(record)
        .reverse()
        .map((key) => [key, reversed(record[key])]),
    );
  }
  return value;
}

describe("canonicalJson", () => {
  it("is the library's RFC 8785 form for any JSON value, in any key order", () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: "grapheme" }), (value) => {
        const expected = canonicalize(value);
        expect(canonicalJson(value)).toBe(expected);
        expect(canonicalJson(reversed(value))).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it("keeps a __proto__ member, as JSON.parse makes one, in canonical and in pretty form", () => {
    const value = JSON.parse('{"b":1,"__proto__":{"y":2,"x":1}}') as unknown;
    expect(canonicalJson(value)).toBe('{"__proto__":{"x":1,"y":2},"b":1}');
    expect(canonicalJson(reversed(value))).toBe(canonicalize(value));
    expect(JSON.parse(prettyJson(value))).toStrictEqual(JSON.parse('{"__proto__":{"x":1,"y":2},"b":1}'));
    expect(prettyJson(value)).toBe('{\n  "__proto__": {\n    "x": 1,\n    "y": 2\n  },\n  "b": 1\n}\n');
  });

  it("leaves its input as it was, whether the keys needed ordering or not", () => {
    // Ordered at the top, disordered two levels down, in the second element of an array.
    const value = { a: [{ x: 1 }, { z: { q: 1, p: 2 }, y: [3] }], b: { c: null, d: "é" } };
    const before = JSON.stringify(value);
    expect(canonicalJson(value)).toBe('{"a":[{"x":1},{"y":[3],"z":{"p":2,"q":1}}],"b":{"c":null,"d":"é"}}');
    expect(JSON.stringify(value)).toBe(before);
    expect(Object.keys(value.a[1] as object)).toEqual(["z", "y"]);
  });

  it("leaves out undefined members whether or not the object needed a copy", () => {
    expect(canonicalJson({ a: 1, b: undefined, c: 2 })).toBe('{"a":1,"c":2}');
    expect(canonicalJson({ c: 2, b: undefined, a: 1 })).toBe('{"a":1,"c":2}');
    expect(canonicalJson({ a: undefined, b: { d: 1, c: 2 } })).toBe('{"b":{"c":2,"d":1}}');
  });

  it("writes an object of another prototype by its own members, as a plain copy", () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    expect(canonicalJson({ p: new Point(1, 2) })).toBe('{"p":{"x":1,"y":2}}');
    // A boxed number has no own members: it is `{}` as it always was, not the number.
    expect(canonicalJson({ n: Object(5) })).toBe('{"n":{}}');
  });

  it("still hands unusual values to the library", () => {
    expect(canonicalJson({ b: 1, 10: "x", 2: "y" })).toBe('{"10":"x","2":"y","b":1}');
    expect(canonicalJson({ a: new Date(0) })).toBe('{"a":"1970-01-01T00:00:00.000Z"}');
    expect(() => canonicalJson({ a: 1n })).toThrow(TypeError);
  });
});

describe("CanonicalArrayHash", () => {
  it("is digestOf the whole array across its 64 KiB batches", () => {
    // Elements of about 30,000 code units, non-ASCII among them, so that batches end mid-array.
    const elements: unknown[] = [];
    for (let i = 0; i < 12; i++) elements.push({ i, text: `${"ü€🦊".repeat(i * 700)}${"a".repeat(25_000)}` });
    elements.push(undefined, null, [], { z: 1, a: [2] });
    const hash = new CanonicalArrayHash();
    for (const e of elements) hash.add(e);
    expect(hash.digest()).toBe(digestOf(elements.map((e) => (e === undefined ? null : e))));
  });

  it("is the digest of [] when nothing is added", () => {
    expect(new CanonicalArrayHash().digest()).toBe(digestOf([]));
  });
});

/** JSON text without the whitespace between its tokens (none is inside a string but spaces). */
function compact(text: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (inString) {
      out += c;
      if (c === "\\") out += text[++i];
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c !== " " && c !== "\n") out += c;
  }
  return out;
}

/** JSON values whose object keys are often array indexes, or look like them without being one. */
const indexKeyed = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.jsonValue({ maxDepth: 1 }),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(
        fc.constantFrom(
          "0",
          "1",
          "2",
          "9",
          "10",
          "11",
          "01",
          "-1",
          "1.5",
          "4294967294",
          "4294967295",
          "a",
          "B",
          "_",
        ),
        fc.nat().map(String),
        fc.string(),
      ),
      tie("value"),
      { maxKeys: 6 },
    ),
  ),
})).value;

describe("prettyJson", () => {
  it("orders keys by code units where JavaScript lists array indexes first", () => {
    const value = { a: { "10": [{ "1": 1, "0": 0 }], "2": 0 }, "10": 1, "9": 2, "01": 3 };
    expect(prettyJson(value)).toBe(
      [
        "{",
        '  "01": 3,',
        '  "10": 1,',
        '  "9": 2,',
        '  "a": {',
        '    "10": [',
        "      {",
        '        "0": 0,',
        '        "1": 1',
        "      }",
        "    ],",
        '    "2": 0',
        "  }",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("is canonical JSON with two-space indents, for any JSON value", () => {
    fc.assert(
      fc.property(fc.oneof(indexKeyed, fc.jsonValue()), (value) => {
        const text = prettyJson(value);
        expect(compact(text)).toBe(canonicalJson(value));
        expect(text.endsWith("\n")).toBe(true);
        expect(JSON.parse(text)).toStrictEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 1000 },
    );
  });

  it("leaves out members without a JSON form and writes such elements as null, as JSON.stringify does", () => {
    const value = { "2": () => 0, "10": [undefined, () => 0], b: undefined };
    expect(prettyJson(value)).toBe('{\n  "10": [\n    null,\n    null\n  ]\n}\n');
    expect(prettyJson({ b: () => 0, a: [undefined] })).toBe(`${JSON.stringify({ a: [null] }, null, 2)}\n`);
    // A sparse array's hole is null too, in either writer.
    // biome-ignore lint/suspicious/noSparseArray: the hole is what is tested
    const holes = [1, , 2];
    expect(prettyJson({ "10": holes, "9": holes })).toBe(
      '{\n  "10": [\n    1,\n    null,\n    2\n  ],\n  "9": [\n    1,\n    null,\n    2\n  ]\n}\n',
    );
    expect(prettyJson({ a: holes })).toBe(`${JSON.stringify({ a: [1, null, 2] }, null, 2)}\n`);
  });
});
