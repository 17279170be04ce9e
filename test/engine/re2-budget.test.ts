/**
 * Budgets of user patterns (RE2): a maximum program size at compile time, and a bound on
 * instructions times input length per match; over it the match is an evaluation error, not a hang.
 */
import { describe, expect, it } from "vitest";
import { ProofError } from "../../src/errors.js";
import { compileGlob } from "../../src/expr/glob.js";
import {
  compilePattern,
  MAX_MATCH_WORK,
  MAX_PATTERN_INSTRUCTIONS,
  PatternBudgetError,
  PatternTooLargeError,
} from "../../src/expr/re2.js";
import { compilePolicy } from "../../src/policy/compile.js";
import { decision, rules, trace, verify } from "./helpers.js";

function compileError(yaml: string): ProofError {
  try {
    compilePolicy(yaml, "p.yaml");
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    return err as ProofError;
  }
  throw new Error("compiled");
}

describe("pattern size at compile time", () => {
  it("a pattern over the instruction limit is refused, located, naming the rule", () => {
    const big = "(?:a{1000})".repeat(11); // 11,002 instructions from 121 characters
    const err = compileError(`schema: proof.policy/v1
policy_id: p.v1
rules:
  - id: huge_pattern
    match:
      args:
        memo: { matches: '${big}' }
    effect: block
`);
    expect(err.code).toBe("policy.pattern_too_large");
    expect(err.message).toContain("huge_pattern");
    expect(err.message).toContain(`over the limit of ${MAX_PATTERN_INSTRUCTIONS}`);
    expect(err.location).toMatchObject({ file: "p.yaml", line: 7 });
  });

  it("a pattern source over the length limit is refused before RE2 compiles it", () => {
    expect(() => compilePattern("a".repeat(10_001))).toThrow(PatternTooLargeError);
    const err = compileError(`schema: proof.policy/v1
policy_id: p.v1
rules:
  - id: seq
    match:
      sequence:
        forbid_before: { role: user, content: { matches: '${"b".repeat(10_001)}' } }
    effect: block
`);
    expect(err.code).toBe("policy.pattern_too_large");
    expect(err.location).toMatchObject({ line: 7 });
  });

  it("a pattern at the limit compiles", () => {
    expect(compilePattern("(?:a{1000})".repeat(9)).instructions).toBeLessThanOrEqual(
      MAX_PATTERN_INSTRUCTIONS,
    );
  });
});

describe("match budget", () => {
  it("refuses a match whose instructions times input length is over the budget, and runs one at it", () => {
    const p = compilePattern("\\S", 30);
    expect(p.instructions).toBe(3);
    expect(p.test(`${" ".repeat(9)}x`)).toBe(true);
    expect(() => p.test(" ".repeat(11))).toThrow(PatternBudgetError);
  });

  it("an argument pattern over budget is an evaluation error: the call is blocked", () => {
    const p = rules(`  - id: memo_shape
    match:
      tool: send_money
      args:
        memo: { matches: '(?:x[ab]{500})' }
    effect: warn
`);
    const inst = compilePattern("(?:x[ab]{500})").instructions;
    const memo = "a".repeat(Math.floor(MAX_MATCH_WORK / inst) + 1);
    const d = decision(
      verify(p, trace([{ assistant: "", calls: [{ tool: "send_money", args: { memo } }] }])),
    );
    expect(d.verdict).toBe("block");
    expect(d.reasons).toEqual(["evaluation_error"]);
    expect(d.errors).toHaveLength(1);
    expect(d.errors[0]?.rule).toBe("memo_shape");
    expect(d.errors[0]?.message).toMatch(/over the match budget of 67108864: not run/);
    // Just under the budget the pattern runs and simply does not match.
    const ok = "a".repeat(Math.floor(MAX_MATCH_WORK / inst));
    expect(
      decision(verify(p, trace([{ assistant: "", calls: [{ tool: "send_money", args: { memo: ok } }] }])))
        .verdict,
    ).toBe("allow");
  });

  it("a sequence pattern over budget on message content fails closed on later calls of its rule", () => {
    const p = rules(`  - id: confirm
    match:
      tool: book
      sequence:
        require_before: { role: user, content: { matches: '(?i)\\byes\\b' } }
    effect: require_approval
`);
    const inst = compilePattern("(?i)\\byes\\b").instructions;
    const long = `yes ${"z".repeat(Math.floor(MAX_MATCH_WORK / inst))}`;
    const d = decision(verify(p, trace([{ user: long }, { assistant: "", calls: [{ tool: "book" }] }])));
    expect(d.verdict).toBe("block");
    expect(d.errors[0]?.message).toMatch(/^sequence pattern on messages\[0\]: .*match budget/);
  });

  it("tool globs have no match budget: a long tool name is matched, never an error", () => {
    const glob = compileGlob("update_*");
    // The glob compiles to `^update_.*$`: this name is over the budget a user pattern would have.
    const name = `update_${"x".repeat(Math.ceil(MAX_MATCH_WORK / compilePattern("^update_.*$").instructions))}`;
    expect(glob(name)).toBe(true);
  });
});
