import { parse, unparse } from "@bufbuild/cel";
import { ParsedExprSchema } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import { toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  CEL_STEP_BUDGET,
  CelCompileError,
  CONDITION_VARIABLES,
  compileCel,
  compileParsedCel,
  MAX_CEL_DEPTH,
  MAX_CEL_LENGTH,
  MAX_CEL_NESTING,
  MAX_CEL_NODES,
  parsedForm,
  WHEN_VARIABLES,
} from "../../src/expr/cel.js";

function condition(source: string) {
  return compileCel(source, CONDITION_VARIABLES);
}

function evalCondition(source: string, args: unknown, context: unknown = {}, tool = "send_money") {
  return condition(source).evaluate({ tool, args, context });
}

function compileError(source: string, variables: readonly string[] = CONDITION_VARIABLES): CelCompileError {
  try {
    compileCel(source, variables);
  } catch (err) {
    if (err instanceof CelCompileError) return err;
    throw err;
  }
  throw new Error(`'${source}' compiled`);
}

describe("compileCel: compile errors", () => {
  it("a syntax error is a CelCompileError with a 1-based position", () => {
    const err = compileError("args.amount >");
    expect(err.name).toBe("CelCompileError");
    expect(err.line).toBe(1);
    expect(err.column).toBeGreaterThan(0);
    expect(err.message).not.toMatch(/<input>/);
  });

  it("reports other syntax errors too", () => {
    for (const src of ["(args.a", "args.a == 'x", "args..a", "1 +", ""]) {
      expect(() => compileCel(src, CONDITION_VARIABLES), JSON.stringify(src)).toThrow(CelCompileError);
    }
  });

  it("an undeclared variable is an error naming it", () => {
    expect(compileError("foo.bar == 1").message).toMatch(/undeclared reference to 'foo'/);
    // `when` sees only `context`: the call's arguments are not there yet.
    expect(compileError("args.amount > 1", WHEN_VARIABLES).message).toMatch(/'args'/);
    expect(compileError("tool == 'x'", WHEN_VARIABLES).message).toMatch(/'tool'/);
  });

  it("comprehension variables are bound only inside their macro", () => {
    expect(() => condition("args.items.exists(i, i > 1)")).not.toThrow();
    expect(compileError("args.items.exists(i, i > 1) && i > 0").message).toMatch(/'i'/);
  });

  it("an unknown function or method is an error", () => {
    expect(compileError("nosuch(args.x)").message).toMatch(/unknown function 'nosuch'/);
    expect(compileError("args.x.frobnicate()").message).toMatch(/unknown function 'frobnicate'/);
  });

  it("standard functions, macros and type names compile", () => {
    for (const src of [
      "size(args.name) > 2",
      "args.name.startsWith('a') || args.name.endsWith('z')",
      "args.name.matches('^[a-z]+$')",
      "has(args.x)",
      "type(args.amount) == double",
      "int(args.amount) == 2",
      "args.items.all(i, i > 0) && args.items.filter(i, i > 1).size() == 1",
      "tool in ['a', 'b'] ? true : false",
    ]) {
      expect(() => condition(src), src).not.toThrow();
    }
  });

  it("refuses comprehensions nested deeper than the limit", () => {
    const nested = (depth: number): string =>
      depth === 0 ? "true" : `args.items.exists(x${depth}, ${nested(depth - 1)})`;
    expect(condition(nested(MAX_CEL_NESTING)).nesting).toBe(MAX_CEL_NESTING);
    expect(compileError(nested(MAX_CEL_NESTING + 1)).message).toMatch(/nested deeper than 3/);
  });

  it("refuses an expression over the node limit", () => {
    const big = Array.from({ length: MAX_CEL_NODES }, (_, i) => `args.a == ${i}`).join(" || ");
    expect(compileError(big).message).toMatch(/more than the limit of 2000/);
  });

  it("stores a canonical form independent of whitespace", () => {
    expect(condition("args.amount   >\n 1000").canonical).toBe(condition("args.amount > 1000").canonical);
  });
});

describe("compileCel: evaluation", () => {
  it("JSON numbers are doubles that compare with integer literals", () => {
    expect(evalCondition("args.amount > 1000", { amount: 1500 })).toEqual({ value: true });
    expect(evalCondition("args.amount > 1000", { amount: 1000 })).toEqual({ value: false });
    expect(evalCondition("args.amount > 1000", { amount: 1000.5 })).toEqual({ value: true });
    expect(evalCondition("args.amount >= 1000", { amount: 1000 })).toEqual({ value: true });
    expect(evalCondition("args.amount == 1000", { amount: 1000 })).toEqual({ value: true });
    expect(evalCondition("args.amount > 1000.0", { amount: 1500 })).toEqual({ value: true });
    expect(evalCondition("args.amount < -1", { amount: -2 })).toEqual({ value: true });
    expect(evalCondition("args.amount in [1, 2, 3]", { amount: 2 })).toEqual({ value: true });
    expect(evalCondition("type(args.amount) == double", { amount: 2 })).toEqual({ value: true });
  });

  it("sees tool, args and context", () => {
    const src = "tool == 'send_money' && args.to == 'bob' && context.env == 'prod'";
    expect(evalCondition(src, { to: "bob" }, { env: "prod" })).toEqual({ value: true });
    expect(evalCondition(src, { to: "bob" }, { env: "dev" })).toEqual({ value: false });
    expect(evalCondition(src, { to: "bob" }, { env: "prod" }, "other")).toEqual({ value: false });
    const when = compileCel('context.environment in ["prod", "staging"]', WHEN_VARIABLES);
    expect(when.evaluate({ context: { environment: "staging" } })).toEqual({ value: true });
    expect(when.evaluate({ context: { environment: "dev" } })).toEqual({ value: false });
  });

  it("RE2 matching inside CEL", () => {
    expect(evalCondition("args.iban.matches('^DE[0-9]+$')", { iban: "DE8937" })).toEqual({ value: true });
    expect(evalCondition("args.iban.matches('^DE[0-9]+$')", { iban: "FR76" })).toEqual({ value: false });
  });

  it("only a boolean result is a value; anything else is an error", () => {
    for (const [src, args] of [
      ["args.amount", { amount: 2 }],
      ["args.name", { name: "x" }],
      ["args.items", { items: [true] }],
      ["args", {}],
      ["args.n", { n: null }],
    ] as const) {
      const r = evalCondition(src, args);
      expect(r, src).toHaveProperty("error");
      expect("error" in r && r.error).toMatch(/not a boolean/);
    }
  });

  it("a missing key is an error, not false", () => {
    const r = evalCondition("args.missing > 1", { amount: 2 });
    expect(r).toHaveProperty("error");
    expect("error" in r && r.error).toMatch(/missing/);
    // has() is the way to test for presence
    expect(evalCondition("has(args.missing) && args.missing > 1", { amount: 2 })).toEqual({ value: false });
  });

  it("runtime type errors and arithmetic errors are errors", () => {
    expect(evalCondition("args.name > 1", { name: "x" })).toHaveProperty("error");
    expect(evalCondition("1 / 0 == 1", {})).toHaveProperty("error");
    expect(evalCondition("args.name.startsWith('a')", { name: 5 })).toHaveProperty("error");
  });

  it("never throws, whatever the bindings", () => {
    const c = condition("args.a.b.c == 1");
    expect(() => c.evaluate({ tool: "t", args: "a string", context: {} })).not.toThrow();
    expect(c.evaluate({ tool: "t", args: "a string", context: {} })).toHaveProperty("error");
    const w = compileCel("context.env == 'prod'", WHEN_VARIABLES);
    expect(w.evaluate({ context: undefined })).toHaveProperty("error");
    expect(w.evaluate({ context: null })).toHaveProperty("error");
  });

  it("evaluating the same program twice gives the same answer (no state kept between runs)", () => {
    const c = condition("args.items.exists(i, i == 'x')");
    expect(c.evaluate({ tool: "t", args: { items: ["x"] }, context: {} })).toEqual({ value: true });
    expect(c.evaluate({ tool: "t", args: { items: ["y"] }, context: {} })).toEqual({ value: false });
    expect(c.evaluate({ tool: "t", args: { items: ["x"] }, context: {} })).toEqual({ value: true });
  });
});

describe("compileCel: step budget", () => {
  const pairs = "args.items.exists(i, args.items.exists(j, i + j == -1.0))";

  it("a nested comprehension over a small list is evaluated", () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    expect(evalCondition(pairs, { items })).toEqual({ value: false });
  });

  it("a nested comprehension over a large list exceeds the budget: an error, not an answer", () => {
    const c = condition(pairs);
    expect(c.nesting).toBe(2);
    const items = Array.from({ length: 5000 }, (_, i) => i);
    const r = c.evaluate({ tool: "t", args: { items }, context: {} });
    expect(r).toHaveProperty("error");
    expect("error" in r && r.error).toMatch(/evaluation budget exceeded/);
    expect("error" in r && r.error).toContain(String(CEL_STEP_BUDGET));
  });

  it("the same list passes with a single comprehension: the estimate follows the nesting", () => {
    const items = Array.from({ length: 5000 }, (_, i) => i);
    expect(evalCondition("args.items.exists(i, i == 4999.0)", { items })).toEqual({ value: true });
  });

  it("counts the context too: a large context cannot sneak past the budget", () => {
    const big = Array.from({ length: 5000 }, (_, i) => i);
    const r = evalCondition(pairs, { items: [1, 2] }, { big });
    expect(r).toHaveProperty("error");
  });
});

describe("compileCel: expressions too long or too deep for the parser, planner or evaluator", () => {
  it("refuses a text over the length limit before parsing it", () => {
    const long = `args.name == '${"x".repeat(MAX_CEL_LENGTH)}'`;
    expect(compileError(long).message).toMatch(/more than the limit of 65536/);
  });

  it("refuses brackets nested over the limit at the bracket that passes it", () => {
    const err = compileError(`${"(".repeat(3000)}true${")".repeat(3000)}`);
    expect(err.message).toMatch(/brackets nested deeper than 32 levels/);
    expect([err.line, err.column]).toEqual([1, MAX_CEL_DEPTH + 1]);
    expect(compileError(`${"[".repeat(500)}${"]".repeat(500)} == []`).message).toMatch(/nested deeper/);
  });

  it("does not count brackets inside string literals", () => {
    const text = "(".repeat(200);
    expect(
      condition(`args.a == '${text}' || args.b == "${text}" || args.c == '''${text}'''`).nodes,
    ).toBeGreaterThan(0);
  });

  it("accepts nesting up to the limit", () => {
    expect(condition(`${"(".repeat(MAX_CEL_DEPTH)}true${")".repeat(MAX_CEL_DEPTH)}`).canonical).toBe("true");
    const chain = Array.from({ length: MAX_CEL_DEPTH - 2 }, () => "1").join(" + ");
    const compiled = condition(`${chain} == ${MAX_CEL_DEPTH - 2}`);
    expect(compiled.evaluate({ tool: "t", args: {}, context: {} })).toEqual({ value: true });
    // What compile stores in an IR loads back from it.
    const stored = compileParsedCel(compiled.canonical, parsedForm(compiled.canonical), CONDITION_VARIABLES);
    expect(stored.canonical).toBe(compiled.canonical);
  });

  it("refuses an operator chain whose tree is too deep (2,500 terms)", () => {
    const chain = Array.from({ length: 2500 }, () => "1").join(" + ");
    const err = compileError(`${chain} == 1`);
    expect(err.message).toMatch(/expression nested deeper than 32 levels/);
  });

  it("keeps a long || chain to the node limit: the parser balances it", () => {
    const chain = Array.from({ length: 2500 }, () => "context.a").join(" || ");
    expect(compileError(chain, WHEN_VARIABLES).message).toMatch(/more than the limit of 2000/);
  });
});

describe("compileParsedCel: a stored parsed form too deep to check", () => {
  it("refuses it before unparsing it", () => {
    // What an edited IR could hold: a tree the compiler would never have written.
    const parsed = parse(`${Array.from({ length: 40 }, () => "1").join(" + ")} == 1`);
    const b64 = Buffer.from(toBinary(ParsedExprSchema, parsed)).toString("base64");
    expect(() => compileParsedCel(unparse(parsed), b64, CONDITION_VARIABLES)).toThrow(
      /expression nested deeper than 32 levels/,
    );
  });
});
