import { describe, expect, it } from "vitest";
import {
  compileArgConditions,
  compileConditions,
  getPath,
  jsonEqual,
  MatchTypeError,
} from "../../src/expr/matchers.js";
import type { Condition, JsonValue, MatchOp } from "../../src/policy/ir.js";

/** A test of one operator. */
function op(o: MatchOp, value: JsonValue): (v: unknown) => boolean {
  return compileConditions([{ op: o, value }]);
}

describe("getPath", () => {
  const args = { payee: { iban: "DE89", name: "Bob" }, items: [{ id: "a" }, { id: "b" }], n: 0, z: null };

  it("follows dot notation into objects and arrays", () => {
    expect(getPath(args, "payee.iban")).toBe("DE89");
    expect(getPath(args, "items.1.id")).toBe("b");
    expect(getPath(args, "n")).toBe(0);
    expect(getPath(args, "z")).toBeNull();
  });

  it("is undefined for absent keys, out-of-range or non-numeric indexes, and scalars", () => {
    expect(getPath(args, "payee.bic")).toBeUndefined();
    expect(getPath(args, "items.2.id")).toBeUndefined();
    expect(getPath(args, "items.first")).toBeUndefined();
    expect(getPath(args, "n.x")).toBeUndefined();
    expect(getPath(args, "z.x")).toBeUndefined();
    expect(getPath("text", "length")).toBeUndefined();
  });

  it("never reads inherited properties", () => {
    expect(getPath({}, "constructor")).toBeUndefined();
    expect(getPath({}, "toString")).toBeUndefined();
    expect(getPath({ a: {} }, "a.__proto__")).toBeUndefined();
    expect(getPath([1, 2], "length")).toBeUndefined();
  });
});

describe("jsonEqual", () => {
  it("compares scalars by value and objects structurally, whatever the key order", () => {
    expect(jsonEqual(1, 1.0)).toBe(true);
    expect(jsonEqual(1, "1")).toBe(false);
    expect(jsonEqual(null, null)).toBe(true);
    expect(jsonEqual(null, {})).toBe(false);
    expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
  });
});

describe("argument operators", () => {
  it("eq / ne: structural equality of any JSON value", () => {
    expect(op("eq", "x")("x")).toBe(true);
    expect(op("eq", "x")("X")).toBe(false);
    expect(op("eq", 5)(5)).toBe(true);
    expect(op("eq", 5)("5")).toBe(false);
    expect(op("eq", null)(null)).toBe(true);
    expect(op("eq", { k: [1, 2] })({ k: [1, 2] })).toBe(true);
    expect(op("eq", true)(1)).toBe(false);
    expect(op("ne", "x")("y")).toBe(true);
    expect(op("ne", "x")("x")).toBe(false);
    expect(op("ne", { a: 1 })({ a: 2 })).toBe(true);
    expect(op("ne", 5)("5")).toBe(true);
  });

  it("gt / gte / lt / lte compare numbers at the boundary", () => {
    expect([op("gt", 10)(10), op("gt", 10)(10.5), op("gt", 10)(9)]).toEqual([false, true, false]);
    expect([op("gte", 10)(10), op("gte", 10)(9.99)]).toEqual([true, false]);
    expect([op("lt", 0)(-1), op("lt", 0)(0)]).toEqual([true, false]);
    expect([op("lte", 0)(0), op("lte", 0)(0.001)]).toEqual([true, false]);
  });

  it.each(["gt", "gte", "lt", "lte"] as const)("%s on a non-number is a MatchTypeError", (o) => {
    for (const v of ["5", true, null, [1], { n: 1 }]) {
      expect(() => op(o, 1)(v)).toThrow(MatchTypeError);
    }
    expect(() => op(o, 1)("5")).toThrow(/needs a number, the value is string/);
    expect(() => op(o, 1)(null)).toThrow(/the value is null/);
    expect(() => op(o, 1)([1])).toThrow(/the value is array/);
  });

  it("in / not_in: membership by structural equality", () => {
    const set = ["a", 1, { k: "v" }];
    expect(op("in", set)("a")).toBe(true);
    expect(op("in", set)(1)).toBe(true);
    expect(op("in", set)({ k: "v" })).toBe(true);
    expect(op("in", set)("1")).toBe(false);
    expect(op("in", [])("a")).toBe(false);
    expect(op("not_in", set)("b")).toBe(true);
    expect(op("not_in", set)({ k: "v" })).toBe(false);
    expect(op("not_in", [])("a")).toBe(true);
  });

  it("matches is an unanchored RE2 search", () => {
    expect(op("matches", "b+")("abbbc")).toBe(true);
    expect(op("matches", "^b")("abc")).toBe(false);
    expect(op("matches", "^a.c$")("abc")).toBe(true);
    expect(op("matches", "(?i)\\byes\\b")("Yes, please")).toBe(true);
    expect(op("matches", "(?i)\\byes\\b")("eyes only")).toBe(false);
    expect(op("matches", "\\S")("   ")).toBe(false);
    expect(op("matches", "\\S")("")).toBe(false);
  });

  it("matches on a non-string is a MatchTypeError", () => {
    expect(() => op("matches", "1")(1)).toThrow(MatchTypeError);
    expect(() => op("matches", "x")(["x"])).toThrow(/'matches' needs a string, the value is array/);
  });

  it("matches refuses syntax RE2 does not have (so no pattern can backtrack)", () => {
    expect(() => op("matches", "(a)\\1")).toThrow();
    expect(() => op("matches", "a(?=b)")).toThrow();
    expect(() => op("matches", "(unclosed")).toThrow();
  });

  it("matches stays linear on a catastrophic-backtracking pattern", () => {
    // (a+)+$ takes exponential time in a backtracking engine on "aaaa...b"; RE2 answers at once.
    expect(op("matches", "^(a+)+$")(`${"a".repeat(5000)}b`)).toBe(false);
  });

  it("contains: substring of a string, element of an array", () => {
    expect(op("contains", "bc")("abcd")).toBe(true);
    expect(op("contains", "BC")("abcd")).toBe(false);
    expect(op("contains", "")("abcd")).toBe(true);
    expect(op("contains", "b")(["a", "b"])).toBe(true);
    expect(op("contains", "b")(["abc"])).toBe(false);
    expect(op("contains", 2)([1, 2, 3])).toBe(true);
    expect(op("contains", { id: 1 })([{ id: 1 }])).toBe(true);
    expect(op("contains", { id: 1 })([{ id: 2 }])).toBe(false);
  });

  it("contains on a number or object, or with a non-string operand on a string, is a MatchTypeError", () => {
    expect(() => op("contains", "1")(123)).toThrow(MatchTypeError);
    expect(() => op("contains", "a")({ a: 1 })).toThrow(/needs a string or an array, the value is object/);
    expect(() => op("contains", 1)("123")).toThrow(/needs a string operand/);
  });

  it("starts_with on strings, MatchTypeError otherwise", () => {
    expect(op("starts_with", "DE")("DE89 3704")).toBe(true);
    expect(op("starts_with", "DE")("de89")).toBe(false);
    expect(op("starts_with", "DE")(" DE89")).toBe(false);
    expect(() => op("starts_with", "1")(12)).toThrow(MatchTypeError);
    expect(() => op("starts_with", "a")(["a"])).toThrow(MatchTypeError);
  });

  it("exists: present (null counts as present) or absent", () => {
    expect(op("exists", true)("x")).toBe(true);
    expect(op("exists", true)(null)).toBe(true);
    expect(op("exists", true)(undefined)).toBe(false);
    expect(op("exists", false)(undefined)).toBe(true);
    expect(op("exists", false)(0)).toBe(false);
    expect(op("exists", false)(null)).toBe(false);
  });

  it("a missing value satisfies only exists: false, and never throws", () => {
    const every: Condition[] = [
      { op: "eq", value: "x" },
      { op: "ne", value: "x" },
      { op: "gt", value: 0 },
      { op: "gte", value: 0 },
      { op: "lt", value: 0 },
      { op: "lte", value: 0 },
      { op: "in", value: ["x"] },
      { op: "not_in", value: ["x"] },
      { op: "matches", value: ".*" },
      { op: "contains", value: "x" },
      { op: "starts_with", value: "" },
      { op: "exists", value: true },
    ];
    for (const c of every) expect(compileConditions([c])(undefined), c.op).toBe(false);
    expect(op("exists", false)(undefined)).toBe(true);
  });

  it("ANDs the conditions of one value", () => {
    const range = compileConditions([
      { op: "gte", value: 10 },
      { op: "lt", value: 20 },
    ]);
    expect([range(9), range(10), range(19), range(20)]).toEqual([false, true, true, false]);
    const both = compileConditions([
      { op: "starts_with", value: "DE" },
      { op: "matches", value: "^[A-Z]{2}[0-9]+$" },
    ]);
    expect([both("DE123"), both("FR123"), both("DE12x")]).toEqual([true, false, false]);
  });

  it("an empty condition list is satisfied by anything", () => {
    expect(compileConditions([])(undefined)).toBe(true);
    expect(compileConditions([])(42)).toBe(true);
  });
});

describe("compileArgConditions", () => {
  const test = compileArgConditions([
    { path: "amount", conditions: [{ op: "gt", value: 0 }] },
    { path: "payee.iban", conditions: [{ op: "starts_with", value: "DE" }] },
  ]);

  it("ANDs conditions across argument paths, nested paths included", () => {
    expect(test({ amount: 5, payee: { iban: "DE89" } })).toBe(true);
    expect(test({ amount: 0, payee: { iban: "DE89" } })).toBe(false);
    expect(test({ amount: 5, payee: { iban: "FR76" } })).toBe(false);
  });

  it("a missing argument is a miss, not an error", () => {
    expect(test({ payee: { iban: "DE89" } })).toBe(false);
    expect(test({ amount: 5 })).toBe(false);
    expect(test("not an object")).toBe(false);
  });

  it("a wrong type surfaces as a MatchTypeError", () => {
    expect(() => test({ amount: "5", payee: { iban: "DE89" } })).toThrow(MatchTypeError);
  });

  it("no conditions: every call's args match", () => {
    expect(compileArgConditions([])({})).toBe(true);
    expect(compileArgConditions([])(null)).toBe(true);
  });
});
