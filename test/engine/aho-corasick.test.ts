import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AhoCorasick } from "../../src/verify/aho-corasick.js";

/** Occurrences (overlapping) of each pattern in the text, the slow obvious way. */
function naive(patterns: readonly string[], text: string): number[] {
  return patterns.map((p) => {
    if (p === "") return 0;
    let n = 0;
    for (let i = text.indexOf(p); i !== -1; i = text.indexOf(p, i + 1)) n++;
    return n;
  });
}

function counts(patterns: readonly string[], text: string, denseLimit?: number): number[] {
  const out = patterns.map(() => 0);
  new AhoCorasick(patterns, denseLimit).scan(text, (p) => {
    out[p] = (out[p] ?? 0) + 1;
  });
  return out;
}

describe("AhoCorasick", () => {
  it("finds every overlapping occurrence, patterns inside patterns included", () => {
    const patterns = ["he", "she", "his", "hers"];
    expect(counts(patterns, "ushers")).toEqual([1, 1, 0, 1]);
    expect(counts(["aa", "a", "aaa"], "aaaa")).toEqual([3, 4, 2]);
    expect(counts(["abcd", "bc", "c"], "xabcdx")).toEqual([1, 1, 1]);
  });

  it("follows failure links across partial matches", () => {
    expect(counts(["abab", "bac"], "ababac")).toEqual([1, 1]);
    expect(counts(["aab"], "aaab")).toEqual([1]);
    expect(counts(["abcabd"], "abcabcabd")).toEqual([1]);
  });

  it("reports nothing for no patterns, an empty text, or an empty pattern", () => {
    expect(counts([], "anything")).toEqual([]);
    expect(counts(["abc"], "")).toEqual([0]);
    expect(counts(["", "a"], "aa")).toEqual([0, 2]);
  });

  it("reports every index of a pattern given twice", () => {
    expect(counts(["dup", "x", "dup"], "a dup")).toEqual([1, 0, 1]);
  });

  it("works on UTF-16 code units: astral characters and combining marks", () => {
    expect(counts(["😀x", "é"], "a😀x😀x é")).toEqual([2, 1]);
    // a surrogate half is a code unit like any other
    expect(counts(["\ud83d"], "😀😀")).toEqual([2]);
  });

  it("agrees with indexOf on random patterns and texts over a small alphabet", () => {
    const word = fc.string({ unit: fc.constantFrom("a", "b", "c"), maxLength: 6 });
    fc.assert(
      fc.property(
        fc.array(word, { maxLength: 8 }),
        fc.string({ unit: fc.constantFrom("a", "b", "c", "d"), maxLength: 60 }),
        (patterns, text) => {
          expect(counts(patterns, text)).toEqual(naive(patterns, text));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("the trie form (no table) agrees with indexOf too", () => {
    const word = fc.string({ unit: fc.constantFrom("a", "b", "c"), maxLength: 6 });
    fc.assert(
      fc.property(
        fc.array(word, { maxLength: 8 }),
        fc.string({ unit: fc.constantFrom("a", "b", "c", "d"), maxLength: 60 }),
        (patterns, text) => {
          expect(counts(patterns, text, 0)).toEqual(naive(patterns, text));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("agrees with indexOf on arbitrary Unicode text with patterns cut out of it", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 40 }),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 8 })), { maxLength: 6 }),
        fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
        (text, cuts, extra) => {
          const patterns = [
            ...cuts.map(([start, len]) => text.substr(start % (text.length + 1), len)),
            ...extra,
          ];
          expect(counts(patterns, text)).toEqual(naive(patterns, text));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("agrees with indexOf on patterns over a large alphabet (an automaton too big for a dense table)", () => {
    // 300 patterns of 40 code units drawn from 20,000 CJK code points: about 12,000 states times
    // thousands of distinct code units, far above what a state-by-character table can hold.
    const unit = fc.integer({ min: 0x4e00, max: 0x4e00 + 20_000 }).map((c) => String.fromCharCode(c));
    const pattern = fc.array(unit, { minLength: 40, maxLength: 40 }).map((a) => a.join(""));
    fc.assert(
      fc.property(
        fc.array(pattern, { minLength: 300, maxLength: 300 }),
        fc.array(fc.tuple(fc.nat(299), fc.nat(39), fc.string({ maxLength: 5 })), { maxLength: 30 }),
        (patterns, pieces) => {
          // the text is made of pattern pieces, whole ones and cut ones, so that matches occur
          const text = pieces
            .map(([i, cut, glue]) => (patterns[i] as string).slice(cut % 3 === 0 ? 0 : cut) + glue)
            .join("");
          expect(counts(patterns, text)).toEqual(naive(patterns, text));
        },
      ),
      { numRuns: 10 },
    );
  });

  it("finds the right few among thousands of patterns in a long text", () => {
    const patterns = Array.from({ length: 2000 }, (_, i) => `value-${i.toString(36)}-end`);
    const text = `${"noise ".repeat(20000)}value-1jj-end ${"value-".repeat(5000)}value-0-end`;
    const found = counts(patterns, text);
    expect(found[parseInt("1jj", 36)]).toBe(1);
    expect(found[0]).toBe(1);
    expect(found.reduce((a, b) => a + b, 0)).toBe(2);
  });

  it("with code units to skip, finds in a text what it finds in the text without them, at their ends in the text", () => {
    const skip = " -\u00a0";
    const stripped = (text: string) => {
      const kept: number[] = [];
      let out = "";
      for (let i = 0; i < text.length; i++)
        if (!skip.includes(text[i] as string)) {
          kept.push(i);
          out += text[i];
        }
      return { out, kept };
    };
    const hits = (patterns: string[], text: string, denseLimit?: number, skipped = "") => {
      const found: string[] = [];
      new AhoCorasick(patterns, denseLimit, skipped).scan(text, (p, end) => found.push(`${p}@${end}`));
      return found.sort();
    };
    const word = fc.string({ unit: fc.constantFrom("a", "b", "c"), maxLength: 6 });
    fc.assert(
      fc.property(
        fc.array(word, { maxLength: 8 }),
        fc.string({ unit: fc.constantFrom("a", "b", "c", " ", "-", "\u00a0"), maxLength: 60 }),
        fc.constantFrom(undefined, 0),
        (patterns, text, denseLimit) => {
          const { out, kept } = stripped(text);
          const expected = hits(patterns, out, denseLimit).map((h) => {
            const [p, end] = h.split("@");
            return `${p}@${kept[Number(end)]}`;
          });
          expect(hits(patterns, text, denseLimit, skip)).toEqual(expected.sort());
        },
      ),
      { numRuns: 500 },
    );
    // A pattern holding a skipped code unit never matches, in either form.
    expect(hits(["a b", "ab"], "a b", undefined, skip)).toEqual(["1@2"]);
    expect(hits(["a b", "ab"], "a b", 0, skip)).toEqual(["1@2"]);
  });
});
