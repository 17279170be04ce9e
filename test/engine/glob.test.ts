import { describe, expect, it } from "vitest";
import { compileGlob, isGlob } from "../../src/expr/glob.js";
import { compilePattern, quoteMeta } from "../../src/expr/re2.js";
import { rules, trace, verdicts, verify } from "./helpers.js";

function matches(glob: string, names: string[]): string[] {
  const test = compileGlob(glob);
  return names.filter(test);
}

describe("isGlob", () => {
  it("recognises *, ? and [ as glob syntax", () => {
    expect(["a*", "a?", "[ab]c", "send_money", "a.b", "a]b", "a+b"].map(isGlob)).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe("compileGlob", () => {
  const names = [
    "update_reservation_flights",
    "update_reservation_",
    "update_reservation",
    "x_update_reservation_seat",
    "book_reservation",
  ];

  it("* matches any run of characters, the empty one included, anchored at both ends", () => {
    expect(matches("update_reservation_*", names)).toEqual([
      "update_reservation_flights",
      "update_reservation_",
    ]);
    expect(matches("*reservation", names)).toEqual(["update_reservation", "book_reservation"]);
    expect(matches("*", ["", "anything"])).toEqual(["", "anything"]);
  });

  it("? matches exactly one character (one code point)", () => {
    expect(matches("get_?", ["get_a", "get_", "get_ab", "get_é", "get_😀"])).toEqual([
      "get_a",
      "get_é",
      "get_😀",
    ]);
  });

  it("[abc] and [!abc] are classes; ranges work", () => {
    expect(matches("tool_[ab]", ["tool_a", "tool_b", "tool_c", "tool_ab"])).toEqual(["tool_a", "tool_b"]);
    expect(matches("tool_[!ab]", ["tool_a", "tool_c", "tool_"])).toEqual(["tool_c"]);
    expect(matches("v[0-9]", ["v1", "v9", "va"])).toEqual(["v1", "v9"]);
  });

  it("a ']' first in a class is a literal member", () => {
    expect(matches("a[]]", ["a]", "a"])).toEqual(["a]"]);
    expect(matches("a[!]]", ["a]", "ab"])).toEqual(["ab"]);
  });

  it("regex metacharacters in a glob are literals", () => {
    expect(matches("a.b*", ["a.bc", "axbc"])).toEqual(["a.bc"]);
    expect(matches("f(x)+*", ["f(x)+1", "fxx1"])).toEqual(["f(x)+1"]);
    expect(matches("$a|b^*", ["$a|b^", "a"])).toEqual(["$a|b^"]);
    expect(matches("a\\b*", ["a\\b", "ab"])).toEqual(["a\\b"]);
    expect(matches("{x}*", ["{x}y"])).toEqual(["{x}y"]);
    expect(matches("tool_[.^\\]", ["tool_.", "tool_^", "tool_\\", "tool_x"])).toEqual([
      "tool_.",
      "tool_^",
      "tool_\\",
    ]);
  });

  it("line breaks are characters like any other: *, ? and classes match them", () => {
    const hostile = ["send_\nmoney", "send_money\n", "send_\r\n", "send_\u2028x"];
    expect(matches("send_*", hostile)).toEqual(hostile);
    expect(matches("*", ["\n", "a\nb\n"])).toEqual(["\n", "a\nb\n"]);
    expect(matches("del?te", ["del\nte", "del\rte", "delete"])).toEqual(["del\nte", "del\rte", "delete"]);
    expect(matches("send_[!a]", ["send_\n", "send_a"])).toEqual(["send_\n"]);
    expect(matches("send_[\n]", ["send_\n", "send_n"])).toEqual(["send_\n"]);
  });

  it("anchors at the true end: a trailing line break is part of the name", () => {
    expect(matches("send_mone?", ["send_money", "send_money\n", "send_mone\n"])).toEqual([
      "send_money",
      "send_mone\n",
    ]);
    expect(matches("*_money", ["send_money\n", "send_money"])).toEqual(["send_money"]);
    expect(matches("send_*y", ["send_money\n", "\nsend_money"])).toEqual([]);
  });

  it("a name without glob syntax is compared exactly", () => {
    expect(matches("send_money", ["send_money", "send_money2", "SEND_MONEY"])).toEqual(["send_money"]);
  });

  it("rejects an unclosed class", () => {
    expect(() => compileGlob("tool_[ab")).toThrow(/unclosed '\['/);
    expect(() => compileGlob("tool_[")).toThrow(/unclosed/);
    expect(() => compileGlob("tool_[]")).toThrow(/unclosed/);
    expect(() => compileGlob("tool_[!]")).toThrow(/unclosed/);
  });
});

describe("tool globs in the engine (verify, check and the proxy share it)", () => {
  it("a call whose tool name holds a line break is judged by the glob rules that cover it", () => {
    const p = rules(`  - id: no_send
    match: { tool: [send_*, "del?te"] }
    effect: block
`);
    const calls = ["send_\nmoney", "send_money\n", "del\nte", "read_file"].map((tool) => ({ tool }));
    expect(verdicts(verify(p, trace([{ assistant: "", calls }])))).toEqual([
      "block",
      "block",
      "block",
      "allow",
    ]);
  });
});

describe("RE2 patterns", () => {
  it("quoteMeta makes every metacharacter literal", () => {
    const literal = "a.b*c+d?e(f)g|h[i]j{k}l^m$n\\o";
    const p = compilePattern(`^${quoteMeta(literal)}$`);
    expect(p.test(literal)).toBe(true);
    expect(p.test(literal.replace(".", "x"))).toBe(false);
  });

  it("compilePattern keeps the source and searches unanchored", () => {
    const p = compilePattern("b\\d");
    expect(p.source).toBe("b\\d");
    expect(p.test("ab1c")).toBe(true);
    expect(p.test("abc")).toBe(false);
  });

  it("reports invalid patterns with RE2's message", () => {
    expect(() => compilePattern("a)")).toThrow(/\)/);
    expect(() => compilePattern("x{2,1}")).toThrow();
  });
});
