import { canonicalJson } from "../io/canonical.js";
import type { ArgCondition, Condition } from "../policy/ir.js";
import { compilePattern } from "./re2.js";

/** A condition applied to a value of the wrong type: an evaluation error, never a silent miss. */
export class MatchTypeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MatchTypeError";
  }
}

/** A compiled value test: `true` when the value satisfies every condition. @throws MatchTypeError */
export type ValueTest = (value: unknown) => boolean;

/** Looks up a dot-notation path (`payee.iban`, `items.0.id`) in a JSON value; `undefined` when absent. */
export function getPath(value: unknown, path: string): unknown {
  let cur = value;
  for (const segment of path.split(".")) {
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(segment)) return undefined;
      cur = cur[Number(segment)];
    } else if (cur !== null && typeof cur === "object" && Object.hasOwn(cur, segment)) {
      cur = (cur as Record<string, unknown>)[segment];
    } else return undefined;
  }
  return cur;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** Structural equality of JSON values (numbers by value, objects by canonical form). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return canonicalJson(a) === canonicalJson(b);
}

function number(op: string, value: unknown): number {
  if (typeof value !== "number")
    throw new MatchTypeError(`'${op}' needs a number, the value is ${describe(value)}`);
  return value;
}

function string(op: string, value: unknown): string {
  if (typeof value !== "string")
    throw new MatchTypeError(`'${op}' needs a string, the value is ${describe(value)}`);
  return value;
}

/** Operators that compare numbers: their operand must be a finite number. */
const NUMERIC_OPS: ReadonlySet<string> = new Set(["gt", "gte", "lt", "lte"]);

/**
 * What is wrong with a condition's operand that no value could ever satisfy: a comparison
 * (`gt`, `gte`, `lt`, `lte`) given anything but a finite number would never match, silently
 * turning its rule off.
 * @returns a message naming the operator, or undefined when the operand is fine
 */
export function operandProblem(cond: Condition): string | undefined {
  if (NUMERIC_OPS.has(cond.op) && (typeof cond.value !== "number" || !Number.isFinite(cond.value))) {
    return `'${cond.op}' compares numbers, but its operand is ${describe(cond.value)}`;
  }
  return undefined;
}

function compileOne(cond: Condition): ValueTest {
  const operand = cond.value;
  switch (cond.op) {
    case "exists":
      return (v) => (v !== undefined) === operand;
    case "eq":
      return (v) => v !== undefined && jsonEqual(v, operand);
    case "ne":
      return (v) => v !== undefined && !jsonEqual(v, operand);
    case "gt":
      return (v) => v !== undefined && number("gt", v) > (operand as number);
    case "gte":
      return (v) => v !== undefined && number("gte", v) >= (operand as number);
    case "lt":
      return (v) => v !== undefined && number("lt", v) < (operand as number);
    case "lte":
      return (v) => v !== undefined && number("lte", v) <= (operand as number);
    case "in": {
      const set = operand as unknown[];
      return (v) => v !== undefined && set.some((o) => jsonEqual(v, o));
    }
    case "not_in": {
      const set = operand as unknown[];
      return (v) => v !== undefined && !set.some((o) => jsonEqual(v, o));
    }
    case "matches": {
      const pattern = compilePattern(operand as string);
      return (v) => v !== undefined && pattern.test(string("matches", v));
    }
    case "starts_with":
      return (v) => v !== undefined && string("starts_with", v).startsWith(operand as string);
    case "contains":
      return (v) => {
        if (v === undefined) return false;
        if (typeof v === "string") {
          if (typeof operand !== "string")
            throw new MatchTypeError("'contains' on a string needs a string operand");
          return v.includes(operand);
        }
        if (Array.isArray(v)) return v.some((e) => jsonEqual(e, operand));
        throw new MatchTypeError(`'contains' needs a string or an array, the value is ${describe(v)}`);
      };
  }
}

/**
 * Compiles conditions on one value (ANDed) into a test; RE2 patterns are compiled here, once.
 * A missing value (`undefined`) satisfies only `exists: false`.
 * @throws Error from RE2 when a `matches` pattern is invalid.
 */
export function compileConditions(conditions: readonly Condition[]): ValueTest {
  const tests = conditions.map(compileOne);
  return (v) => tests.every((t) => t(v));
}

/** Compiles per-argument conditions into a test over a call's `args` object. */
export function compileArgConditions(args: readonly ArgCondition[]): ValueTest {
  const tests = args.map((a) => {
    const test = compileConditions(a.conditions);
    return (callArgs: unknown) => test(getPath(callArgs, a.path));
  });
  return (callArgs) => tests.every((t) => t(callArgs));
}
