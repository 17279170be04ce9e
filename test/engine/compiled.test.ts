import { describe, expect, it } from "vitest";
import { LEVEL } from "../../src/verify/compiled.js";
import { atLeast, stricter, VERDICT_ORDER } from "../../src/verify/decision.js";
import { rules, trace, verdicts, verify } from "./helpers.js";

describe("verdict order", () => {
  it("stricter picks the more restrictive verdict, in either argument order", () => {
    for (const [i, a] of VERDICT_ORDER.entries()) {
      for (const [j, b] of VERDICT_ORDER.entries()) {
        const expected = i >= j ? a : b;
        expect(stricter(a, b), `${a} vs ${b}`).toBe(expected);
        expect(stricter(b, a), `${b} vs ${a}`).toBe(expected);
      }
    }
    expect(VERDICT_ORDER).toEqual(["allow", "warn", "require_approval", "block"]);
  });

  it("atLeast compares against a threshold", () => {
    expect(atLeast("block", "block")).toBe(true);
    expect(atLeast("require_approval", "block")).toBe(false);
    expect(atLeast("warn", "warn")).toBe(true);
    expect(atLeast("allow", "warn")).toBe(false);
    expect(atLeast("allow", "allow")).toBe(true);
  });
});

describe("compileIR", () => {
  const p = rules(
    `  - id: c_exact
    match: { tool: [pay, refund] }
    effect: warn
  - id: a_glob
    match: { tool: "pa?" }
    effect: warn
  - id: b_any
    match: {}
    effect: warn
  - id: d_class
    match: { tool: "re[!x]und" }
    effect: warn
`,
    `sources:
  - tool: [get_*, pay]
    integrity: trusted
  - tool: get_web*
    integrity: unknown
  - tool: get_webhook
    integrity: untrusted
  - role: system
    integrity: unknown
`,
  );

  it("finds candidate rules by exact name and by pattern, sorted by id", () => {
    expect(p.rulesForTool("pay").map((r) => r.ir.id)).toEqual(["a_glob", "b_any", "c_exact"]);
    expect(p.rulesForTool("refund").map((r) => r.ir.id)).toEqual(["b_any", "c_exact", "d_class"]);
    expect(p.rulesForTool("pax").map((r) => r.ir.id)).toEqual(["a_glob", "b_any"]);
    expect(p.rulesForTool("other").map((r) => r.ir.id)).toEqual(["b_any"]);
    // cached lookups answer the same
    expect(p.rulesForTool("pay").map((r) => r.ir.id)).toEqual(["a_glob", "b_any", "c_exact"]);
  });

  it("never treats inherited object properties as tool names", () => {
    expect(p.rulesForTool("constructor").map((r) => r.ir.id)).toEqual(["b_any"]);
    expect(p.rulesForTool("__proto__").map((r) => r.ir.id)).toEqual(["b_any"]);
  });

  it("tool integrity: untrusted by default, the lowest matching entry otherwise", () => {
    expect(p.toolIntegrity("read_file")).toBe(LEVEL.untrusted);
    expect(p.toolIntegrity(null)).toBe(LEVEL.untrusted);
    expect(p.toolIntegrity("get_iban")).toBe(LEVEL.trusted);
    expect(p.toolIntegrity("pay")).toBe(LEVEL.trusted);
    expect(p.toolIntegrity("get_webpage")).toBe(LEVEL.unknown);
    expect(p.toolIntegrity("get_webhook")).toBe(LEVEL.untrusted);
    // asked twice (cached), same answer
    expect(p.toolIntegrity("get_webpage")).toBe(LEVEL.unknown);
  });

  it("role integrity: user and system trusted unless lowered; assistant is no source", () => {
    expect(p.roleIntegrity("user")).toBe(LEVEL.trusted);
    expect(p.roleIntegrity("system")).toBe(LEVEL.unknown);
    expect(p.roleIntegrity("assistant")).toBe(-1);
    expect(LEVEL.untrusted < LEVEL.unknown && LEVEL.unknown < LEVEL.trusted).toBe(true);
  });

  it("event patterns: role tool means tool results; tool matches calls and results; content only text", () => {
    const q = rules(`  - id: after_tool_result
    match:
      tool: target
      sequence:
        forbid_before: { role: tool, content: { contains: secret } }
    effect: block
  - id: after_call
    match:
      tool: target
      sequence:
        forbid_before: { tool: "fetch_*", args: { url: { starts_with: "http:" } } }
    effect: warn
`);
    const t = trace([
      { user: "secret word in the user's text is not a tool result" },
      {
        assistant: "the secret is not a tool result either",
        calls: [{ tool: "fetch_page", args: { url: "https://x" } }],
      },
      { assistant: "", calls: [{ tool: "target" }] },
      { result: "a secret", tool: "fetch_page" },
      { assistant: "", calls: [{ tool: "fetch_page", args: { url: "http://x" } }, { tool: "target" }] },
    ]);
    expect(verdicts(verify(q, t))).toEqual(["allow", "allow", "allow", "block"]);
    expect(verify(q, t).decisions[3]?.rules).toEqual(["after_call", "after_tool_result"]);
  });
});
