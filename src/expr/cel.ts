/**
 * CEL (Common Expression Language, cel.dev) for rules' `when` and `condition`: the limits, the
 * compiled form and the synchronous compile API. The engine behind it (src/expr/cel-engine.ts,
 * `@bufbuild/cel` with its protobuf runtime, the largest part of the bundle) is loaded on demand,
 * so that a policy without CEL does not pay for it at start-up: an asynchronous entry point
 * awaits {@link loadCel} (or runs its work through {@link withCel}) before the synchronous
 * compile meets an expression. Importing src/expr/cel-engine.ts loads it eagerly, as the library
 * entry point does.
 */

/** Variables a rule's `when` may reference. */
export const WHEN_VARIABLES = ["context"] as const;
/** Variables a rule's `condition` may reference. */
export const CONDITION_VARIABLES = ["tool", "args", "context"] as const;

/** Largest expression accepted, in AST nodes: bounds both compile and evaluation work. */
export const MAX_CEL_NODES = 2_000;

/**
 * Longest expression text accepted, in UTF-16 code units. Checked before the text reaches the
 * parser, so that parse time stays bounded whatever the policy holds.
 */
export const MAX_CEL_LENGTH = 65_536;

/**
 * Deepest expression accepted: brackets nested in the text, and the height of the parsed tree
 * (a chain `1 + 1 + ... + 1` is as deep as it is long). The parser, the planner and the
 * evaluator all recurse over the tree and run out of stack past a few thousand levels; the
 * protobuf decoder of the IR's stored parsed form refuses trees past about 48 levels, so that
 * every expression compiled into an IR can be loaded back from it.
 */
export const MAX_CEL_DEPTH = 32;

/** Deepest nesting of comprehension macros (`exists`, `all`, `map`, `filter`, ...). */
export const MAX_CEL_NESTING = 3;

/**
 * Evaluation budget in estimated steps: AST nodes times the input size to the power of the
 * comprehension nesting (an expression without comprehensions costs its node count, whatever
 * the input). An estimate over it is an evaluation error, so an expression can never run away
 * on a large trace; the estimate is deterministic, unlike a time limit.
 */
export const CEL_STEP_BUDGET = 10_000_000;

/** A CEL expression checked and planned once, evaluated many times. */
export interface CompiledCel {
  /** Canonical unparsed form: whitespace and redundant parentheses normalised. */
  readonly canonical: string;
  /** Number of AST nodes. */
  readonly nodes: number;
  /** Deepest comprehension nesting. */
  readonly nesting: number;
  /**
   * Evaluates to a boolean.
   * @returns `{value}` or `{error}` with a message; never throws.
   */
  evaluate(bindings: Record<string, unknown>): { value: boolean } | { error: string };
}

/** A compile-time CEL problem; `line`/`column` are 1-based inside the expression text. */
export class CelCompileError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(message);
    this.name = "CelCompileError";
  }
}

/**
 * Thrown by the synchronous API when it meets CEL before the engine is loaded: a caller's bug (a
 * missing {@link loadCel}), never a problem of the policy. {@link withCel} catches it, loads the
 * engine and runs its task again.
 */
export class CelNotLoadedError extends Error {
  constructor(what: string) {
    super(`${what} needs the CEL engine, which is not loaded: await loadCel() first (src/expr/cel.ts)`);
    this.name = "CelNotLoadedError";
  }
}

/** What the engine module provides; see the functions of the same names below. */
export interface CelEngine {
  compileCel(source: string, variables: readonly string[]): CompiledCel;
  compileParsedCel(canonical: string, parsedBase64: string, variables: readonly string[]): CompiledCel;
  parsedForm(canonical: string): string;
}

let engine: CelEngine | undefined;
let loading: Promise<void> | undefined;

/** Called once by src/expr/cel-engine.ts when it is imported. */
export function registerCelEngine(e: CelEngine): void {
  engine = e;
}

/** Whether the CEL engine is loaded, so that the synchronous API accepts expressions. */
export function celLoaded(): boolean {
  return engine !== undefined;
}

/**
 * Loads the CEL engine, once per process (later calls return the same promise). About 620 KB of
 * code to compile, and a descriptor registry to build: tens of milliseconds.
 */
export function loadCel(): Promise<void> {
  loading ??= import("./cel-engine.js").then(() => undefined);
  return loading;
}

/**
 * The loaded engine. @throws CelNotLoadedError naming `what` when it is not loaded.
 */
export function requireCel(what: string): CelEngine {
  if (engine === undefined) throw new CelNotLoadedError(what);
  return engine;
}

/**
 * Runs `task`, which may compile policies synchronously; when it meets CEL before the engine is
 * loaded, loads the engine and runs it again from the start. So a policy without CEL never loads
 * the engine, and one with CEL costs its load plus the part of the task done before the first
 * expression. `task` must be safe to repeat: it reads and compiles, it writes nothing.
 * @throws whatever `task` throws, except a first {@link CelNotLoadedError}.
 */
export async function withCel<T>(task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (err) {
    if (!(err instanceof CelNotLoadedError)) throw err;
  }
  await loadCel();
  return task();
}

/**
 * Parses, checks and plans a CEL expression (evaluated by `@bufbuild/cel`). JSON numbers bind as
 * CEL doubles; integer literals compare with them. Results are cached per process by text and
 * variables.
 * @param source the expression text
 * @param variables the variables it may reference (`context`, or `tool`, `args`, `context`)
 * @throws CelCompileError on a syntax error, an undeclared variable, an unknown function, or an
 *   expression over the limits: {@link MAX_CEL_LENGTH} characters, {@link MAX_CEL_DEPTH} levels
 *   (brackets or tree height), {@link MAX_CEL_NODES} nodes, {@link MAX_CEL_NESTING} nested
 *   comprehensions.
 * @throws CelNotLoadedError before {@link loadCel}.
 */
export function compileCel(source: string, variables: readonly string[]): CompiledCel {
  return requireCel("a CEL expression").compileCel(source, variables);
}

/**
 * The parsed form of a canonical expression as stored in the IR: base64 of the protobuf binary
 * encoding of `cel.expr.ParsedExpr` (google/cel-spec, `proto/cel/expr/syntax.proto`). Loading it
 * costs a decode instead of a parse, several times cheaper.
 * @throws CelNotLoadedError before {@link loadCel}.
 */
export function parsedForm(canonical: string): string {
  return requireCel("a CEL expression").parsedForm(canonical);
}

/**
 * Compiles an expression from the IR's parsed form without parsing the text again. The decoded
 * expression must unparse to `canonical`, so the digested text and the executed expression can
 * never disagree.
 * @throws CelCompileError when the parsed form does not decode or does not match the text.
 * @throws CelNotLoadedError before {@link loadCel}.
 */
export function compileParsedCel(
  canonical: string,
  parsedBase64: string,
  variables: readonly string[],
): CompiledCel {
  return requireCel("a CEL expression").compileParsedCel(canonical, parsedBase64, variables);
}
