/**
 * The prefilter in front of RE2 (src/expr/re2.ts): a run of code points that every match of a
 * pattern holds, read from RE2's own program, so that a text without it is refused without
 * running RE2. It must never refuse a text RE2 matches.
 */
import { RE2JS } from "@bufbuild/re2";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compilePattern, prefilterOf } from "../../src/expr/re2.js";

describe("RE2 prefilter", () => {
  it("takes the required run of a case-folded literal, and none from a lone broad class", () => {
    const yes = prefilterOf(new RE2JS("(?i)\\byes\\b")) as (text: string) => boolean;
    expect(yes).toBeDefined();
    expect(yes("no, thank you")).toBe(false);
    expect(yes("Yes please")).toBe(true);
    expect(yes("YES")).toBe(true);
    // RE2 folds ſ (U+017F) with s: the prefilter asks RE2's instruction, so it agrees.
    const fold = prefilterOf(new RE2JS("(?i)yes")) as (text: string) => boolean;
    expect(new RE2JS("(?i)yes").test("yeſ")).toBe(true);
    expect(fold("yeſ")).toBe(true);
    expect(prefilterOf(new RE2JS("\\S"))).toBeUndefined();
    // RE2 makes `a|b` one class of two: required, and narrow enough to test.
    expect(prefilterOf(new RE2JS("a|b"))?.("zzz")).toBe(false);
    expect(prefilterOf(new RE2JS("a|b"))?.("xbx")).toBe(true);
    // Alternatives of several characters have no required run.
    expect(prefilterOf(new RE2JS("ab|cd"))).toBeUndefined();
    // An optional tail leaves the head required.
    expect(prefilterOf(new RE2JS("(?i)confirm(ed)?"))?.("please CONFIRM")).toBe(true);
    expect(prefilterOf(new RE2JS("(?i)confirm(ed)?"))?.("please conform")).toBe(false);
  });

  it("never refuses a text that RE2 matches: random patterns and texts", () => {
    const atom = fc.oneof(
      fc.constantFrom(
        "a",
        "b",
        "y",
        "e",
        "s",
        "k",
        "é",
        "😀",
        "\\b",
        "\\s",
        "\\S",
        ".",
        "[a-c]",
        "[^b]",
        "\\d",
      ),
      fc.constantFrom("(?i:ab)", "(?i:s)", "(?:ab|ba)", "(?:es)?", "a*", "b+", "^", "$"),
    );
    const pattern = fc
      .tuple(fc.boolean(), fc.array(atom, { minLength: 1, maxLength: 6 }), fc.boolean())
      .map(([fold, atoms, alt]) => `${fold ? "(?i)" : ""}${atoms.join("")}${alt ? "|zz" : ""}`);
    const text = fc.string({
      unit: fc.constantFrom(
        "a",
        "b",
        "A",
        "B",
        "y",
        "E",
        "S",
        "ſ",
        "K",
        "\u212a",
        "é",
        "É",
        "😀",
        " ",
        "\n",
        "1",
        "z",
      ),
      maxLength: 24,
    });
    fc.assert(
      fc.property(pattern, fc.array(text, { minLength: 1, maxLength: 8 }), (source, texts) => {
        const re = new RE2JS(source);
        const p = compilePattern(source);
        for (const t of texts) expect(p.test(t)).toBe(re.test(t));
      }),
      { numRuns: 1000 },
    );
  });
});
