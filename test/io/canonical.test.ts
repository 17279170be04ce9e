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
