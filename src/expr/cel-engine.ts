/**
 * The CEL engine: parsing, checking, planning and evaluating expressions with `@bufbuild/cel`
 * (cel.dev). Loaded on demand through src/expr/cel.ts, which holds the limits, types and the
 * synchronous API: importing this module registers it there. It is the largest module proof
 * bundles (CEL and its protobuf runtime, which builds a descriptor registry when imported), so a
 * policy without CEL never loads it.
 */
import { celEnv, isCelError, parse, plan, unparse } from "@bufbuild/cel";
import { type Expr, type ParsedExpr, ParsedExprSchema } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  CEL_STEP_BUDGET,
  CelCompileError,
  type CompiledCel,
  MAX_CEL_DEPTH,
  MAX_CEL_LENGTH,
  MAX_CEL_NESTING,
  MAX_CEL_NODES,
  registerCelEngine,
} from "./cel.js";

const env = celEnv({});

/** Type names, usable as identifiers in `type(x) == int`. */
const TYPE_NAMES = new Set([
  "int",
  "uint",
  "double",
  "bool",
  "string",
  "bytes",
  "list",
  "map",
  "null_type",
  "type",
  "dyn",
]);

/** Operators the planner implements itself rather than through the function registry. */
const PLANNER_OPERATORS = new Set(["_&&_", "_||_", "_?_:_", "_[_]", "_[?_]", "_?._", "@not_strictly_false"]);

interface Shape {
  nodes: number;
  nesting: number;
}

/** Walks the AST: counts nodes, measures comprehension nesting, checks variables and functions. */
function inspect(
  expr: Expr,
  variables: ReadonlySet<string>,
  bound: ReadonlySet<string>,
  depth: number,
): Shape {
  const kind = expr.exprKind;
  const shape: Shape = { nodes: 1, nesting: depth };
  const add = (child: Expr | undefined, b = bound, d = depth) => {
    if (!child) return;
    const s = inspect(child, variables, b, d);
    shape.nodes += s.nodes;
    shape.nesting = Math.max(shape.nesting, s.nesting);
  };
  switch (kind.case) {
    case "identExpr": {
      const name = kind.value.name;
      if (!variables.has(name) && !bound.has(name) && !TYPE_NAMES.has(name)) {
        throw new CelCompileError(
          `undeclared reference to '${name}' (variables: ${[...variables].join(", ")})`,
        );
      }
      break;
    }
    case "selectExpr":
      add(kind.value.operand);
      break;
    case "callExpr": {
      const fn = kind.value.function;
      if (!PLANNER_OPERATORS.has(fn) && !env.funcs.find(fn))
        throw new CelCompileError(`unknown function '${fn}'`);
      add(kind.value.target);
      for (const arg of kind.value.args) add(arg);
      break;
    }
    case "listExpr":
      for (const e of kind.value.elements) add(e);
      break;
    case "structExpr":
      for (const entry of kind.value.entries) {
        if (entry.keyKind.case === "mapKey") add(entry.keyKind.value);
        add(entry.value);
      }
      break;
    case "comprehensionExpr": {
      const c = kind.value;
      if (depth + 1 > MAX_CEL_NESTING) {
        throw new CelCompileError(`comprehensions nested deeper than ${MAX_CEL_NESTING}`);
      }
      add(c.iterRange);
      add(c.accuInit);
      const inner = new Set(bound);
      inner.add(c.iterVar);
      if (c.iterVar2) inner.add(c.iterVar2);
      inner.add(c.accuVar);
      add(c.loopCondition, inner, depth + 1);
      add(c.loopStep, inner, depth + 1);
      add(c.result, inner, depth);
      break;
    }
    default:
      break;
  }
  return shape;
}

/** Number of values in a JSON-like input: the `N` of the step estimate. */
function inputSize(value: unknown): number {
  if (typeof value === "string") return Math.max(1, value.length >> 4);
  if (Array.isArray(value)) {
    let n = 1;
    for (const v of value) n += inputSize(v);
    return n;
  }
  if (value !== null && typeof value === "object") {
    let n = 1;
    for (const v of Object.values(value)) n += inputSize(v);
    return n;
  }
  return 1;
}

/** 1-based line and column of a code-unit offset in an expression. */
function position(source: string, offset: number): { line: number; column: number } {
  const before = source.slice(0, offset);
  const lineStart = before.lastIndexOf("\n") + 1;
  return { line: before.split("\n").length, column: offset - lineStart + 1 };
}

/**
 * Refuses, before parsing, an expression longer than {@link MAX_CEL_LENGTH} or with brackets
 * nested deeper than {@link MAX_CEL_DEPTH}. String literals are skipped (quotes, triple quotes,
 * backslash escapes); a raw string holding a backslash before its closing quote may make the scan
 * skip too much, which the tree-height check after parsing still catches.
 * @throws CelCompileError at the bracket that passes the limit.
 */
function checkText(source: string): void {
  if (source.length > MAX_CEL_LENGTH) {
    throw new CelCompileError(
      `expression is ${source.length} characters long, more than the limit of ${MAX_CEL_LENGTH}`,
    );
  }
  let depth = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '"' || c === "'") {
      const quote = source.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
      i += quote.length;
      while (i < source.length && !source.startsWith(quote, i)) i += source[i] === "\\" ? 2 : 1;
      i += quote.length - 1;
    } else if (c === "(" || c === "[" || c === "{") {
      if (++depth > MAX_CEL_DEPTH) {
        const at = position(source, i);
        throw new CelCompileError(`brackets nested deeper than ${MAX_CEL_DEPTH} levels`, at.line, at.column);
      }
    } else if (c === ")" || c === "]" || c === "}") depth--;
  }
}

/** Children of an expression node, in source order. */
function children(expr: Expr): (Expr | undefined)[] {
  const kind = expr.exprKind;
  switch (kind.case) {
    case "selectExpr":
      return [kind.value.operand];
    case "callExpr":
      return [kind.value.target, ...kind.value.args];
    case "listExpr":
      return kind.value.elements;
    case "structExpr":
      return kind.value.entries.flatMap((e) => [
        e.keyKind.case === "mapKey" ? e.keyKind.value : undefined,
        e.value,
      ]);
    case "comprehensionExpr": {
      const c = kind.value;
      return [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result];
    }
    default:
      return [];
  }
}

/**
 * Refuses a tree higher than {@link MAX_CEL_DEPTH}, walking it with its own stack: every later
 * step (checks, unparse, plan, evaluation) recurses over the tree.
 * @throws CelCompileError
 */
function checkDepth(root: Expr): void {
  const stack: [Expr, number][] = [[root, 1]];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [expr, depth] = top;
    if (depth > MAX_CEL_DEPTH) {
      throw new CelCompileError(`expression nested deeper than ${MAX_CEL_DEPTH} levels`);
    }
    for (const child of children(expr)) if (child) stack.push([child, depth + 1]);
  }
}

function locate(message: string): { line?: number; column?: number } {
  const m = /<input>:(\d+):(\d+)/.exec(message);
  return m ? { line: Number(m[1]), column: Number(m[2]) } : {};
}

/** Every expression compiled in this process, by variables and text: nothing is compiled twice. */
const compiled = new Map<string, CompiledCel>();

function cacheKey(text: string, variables: readonly string[]): string {
  return `${variables.join(",")}\u0000${text}`;
}

/** Checks a parsed expression and plans it for evaluation. @throws CelCompileError */
function build(parsed: ParsedExpr, canonical: string, variables: readonly string[]): CompiledCel {
  if (!parsed.expr) throw new CelCompileError("empty expression");
  const shape = inspect(parsed.expr, new Set(variables), new Set(), 0);
  if (shape.nodes > MAX_CEL_NODES) {
    throw new CelCompileError(`expression has ${shape.nodes} nodes, more than the limit of ${MAX_CEL_NODES}`);
  }
  const program = plan(env, parsed);
  return {
    canonical,
    nodes: shape.nodes,
    nesting: shape.nesting,
    evaluate(bindings) {
      let result: unknown;
      try {
        if (shape.nesting > 0) {
          const estimate = shape.nodes * inputSize(bindings) ** shape.nesting;
          if (estimate > CEL_STEP_BUDGET) {
            return { error: `evaluation budget exceeded (estimated ${estimate} steps > ${CEL_STEP_BUDGET})` };
          }
        }
        result = program(bindings as never);
      } catch (err) {
        return { error: err instanceof Error ? err.message : String(err) };
      }
      if (isCelError(result)) return { error: result.message };
      if (typeof result !== "boolean") return { error: `expression yields ${typeof result}, not a boolean` };
      return { value: result };
    },
  };
}

/** `compileCel` of src/expr/cel.ts: parse, check, plan, cached. @throws CelCompileError */
function compileCel(source: string, variables: readonly string[]): CompiledCel {
  const key = cacheKey(source, variables);
  const hit = compiled.get(key);
  if (hit) return hit;
  checkText(source);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    // The parser recurses per level: what the bracket scan cannot see (say, a long chain of
    // unary operators) may still exhaust the stack, which is a too-deep expression, not a bug.
    if (err instanceof RangeError) throw new CelCompileError(`expression nested too deeply to parse`);
    const message = err instanceof Error ? err.message : String(err);
    const loc = locate(message);
    throw new CelCompileError(message.replace(/^<input>:\d+:\d+: /, ""), loc.line, loc.column);
  }
  if (parsed.expr) checkDepth(parsed.expr);
  const result = build(parsed, unparse(parsed), variables);
  compiled.set(key, result);
  compiled.set(cacheKey(result.canonical, variables), result);
  return result;
}

/**
 * The parsed form of each canonical text asked for in this process: a policy repeats the same
 * `when` over many rules (a thousand rules may hold a hundred distinct ones), and each parse costs
 * far more than the lookup.
 */
const forms = new Map<string, string>();

/** `parsedForm` of src/expr/cel.ts: base64 protobuf of `cel.expr.ParsedExpr`. */
function parsedForm(canonical: string): string {
  let form = forms.get(canonical);
  if (form === undefined) {
    form = Buffer.from(toBinary(ParsedExprSchema, parse(canonical))).toString("base64");
    forms.set(canonical, form);
  }
  return form;
}

/** `compileParsedCel` of src/expr/cel.ts: decode, check against the text, plan. @throws CelCompileError */
function compileParsedCel(
  canonical: string,
  parsedBase64: string,
  variables: readonly string[],
): CompiledCel {
  const key = cacheKey(canonical, variables);
  const hit = compiled.get(key);
  if (hit) return hit;
  let parsed: ParsedExpr;
  try {
    parsed = fromBinary(ParsedExprSchema, Buffer.from(parsedBase64, "base64"));
  } catch (err) {
    throw new CelCompileError(`the stored parsed expression does not decode: ${(err as Error).message}`);
  }
  if (parsed.expr) checkDepth(parsed.expr);
  if (unparse(parsed) !== canonical) {
    throw new CelCompileError(`the stored parsed expression is not '${canonical}'`);
  }
  const result = build(parsed, canonical, variables);
  compiled.set(key, result);
  return result;
}

// Importing this module is what loads CEL: `loadCel` of src/expr/cel.ts awaits exactly this.
registerCelEngine({ compileCel, compileParsedCel, parsedForm });
