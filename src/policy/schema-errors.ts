import type { ErrorObject } from "ajv";
import { combineErrors, inputError, type ProofError } from "../errors.js";
import { locate, type ParsedYaml, pathLabel, pointerSegments } from "./yaml.js";

/**
 * Most schema errors listed for one file; the rest are counted ("and N more"). Enough for any
 * file written by hand; a generated file with thousands of the same mistake needs only the first.
 */
export const MAX_SCHEMA_ERRORS = 50;

/**
 * Turns ajv's errors (validators compiled with `allErrors` and `verbose`, see
 * scripts/gen-validators.mjs) into one readable error per problem, each located in the YAML
 * source: unknown keys point at the key, everything else at the offending value. A misspelled key
 * or value gets a "did you mean" hint from the keys or values allowed at that position.
 * @returns the one problem, or a ProofErrors of every problem sorted by position (at most
 *   {@link MAX_SCHEMA_ERRORS}); codes `<what>.unknown_key`, `.missing_key`, `.wrong_type`,
 *   `.invalid_value`, `.invalid_key`, `.schema` (exit 6).
 */
export function schemaError(
  parsed: ParsedYaml,
  errors: readonly ErrorObject[] | null | undefined,
  what: string,
): ProofError {
  const problems: ProofError[] = [];
  const seen = new Set<string>();
  for (const err of relevant(errors ?? [])) {
    const problem = describe(parsed, err, what);
    const key = `${problem.code}\u0000${problem.message}\u0000${problem.location?.line}:${problem.location?.column}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  if (problems.length === 0)
    return inputError(`${what}.schema`, `${parsed.file} is not a valid ${what}`, { file: parsed.file });
  return combineErrors(problems, MAX_SCHEMA_ERRORS);
}

/**
 * The errors that name a problem a user can fix. Dropped: an `anyOf` that failed, with every
 * error of its branches but the first (the one a fail-fast validator reports: "must be one of
 * ..."), and a failed `propertyNames`, whose key is named by the error of its sub-schema.
 */
function relevant(errors: readonly ErrorObject[]): ErrorObject[] {
  const keep = errors.map(() => true);
  for (const [i, err] of errors.entries()) {
    if (err.keyword === "propertyNames") keep[i] = false;
    if (err.keyword !== "anyOf" && err.keyword !== "oneOf") continue;
    keep[i] = false;
    // ajv lists a failed branch's errors just before the anyOf error, all at or under its path.
    let j = i - 1;
    while (j >= 0 && within((errors[j] as ErrorObject).instancePath, err.instancePath)) j--;
    for (let k = j + 2; k < i; k++) keep[k] = false;
  }
  return errors.filter((_, i) => keep[i]);
}

/** Whether JSON pointer `path` is `parent` or below it. */
function within(path: string, parent: string): boolean {
  return path === parent || path.startsWith(`${parent}/`);
}

/** One ajv error as a located ProofError. */
function describe(parsed: ParsedYaml, err: ErrorObject, what: string): ProofError {
  const path = pointerSegments(err.instancePath);
  const where = pathLabel(path);
  const params = err.params as Record<string, unknown>;
  if (err.propertyName !== undefined) {
    // A `propertyNames` sub-schema failed: the key is the culprit, not the map it is in.
    return inputError(
      `${what}.invalid_key`,
      `invalid key '${err.propertyName}' in ${where}: ${err.message ?? "is invalid"}`,
      locate(parsed, path, err.propertyName),
    );
  }
  switch (err.keyword) {
    case "additionalProperties": {
      const key = String(params.additionalProperty);
      const allowed = allowedKeys(err.parentSchema);
      return inputError(
        `${what}.unknown_key`,
        `unknown key '${key}' in ${where}`,
        locate(parsed, path, key),
        keyHint(key, allowed),
      );
    }
    case "required":
      return inputError(
        `${what}.missing_key`,
        `missing required key '${String(params.missingProperty)}' in ${where}`,
        locate(parsed, path),
      );
    case "enum": {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const value = valueAt(parsed.value, path);
      const guess = typeof value === "string" ? didYouMean(value, allowed) : undefined;
      return inputError(
        `${what}.invalid_value`,
        `${where} must be one of: ${allowed.join(", ")}`,
        locate(parsed, path),
        guess === undefined ? undefined : `did you mean '${guess}'?`,
      );
    }
    case "const":
      return inputError(
        `${what}.invalid_value`,
        `${where} must be '${String(params.allowedValue)}'`,
        locate(parsed, path),
      );
    case "type": {
      const actual = jsonType(valueAt(parsed.value, path));
      return inputError(
        `${what}.wrong_type`,
        `${where} must be ${String(params.type).replace(",", " or ")}, not ${actual}`,
        locate(parsed, path),
      );
    }
    case "pattern":
      return inputError(
        `${what}.invalid_value`,
        `${where} must match ${String(params.pattern)}`,
        locate(parsed, path),
      );
    default:
      return inputError(`${what}.schema`, `${where} ${err.message ?? "is invalid"}`, locate(parsed, path));
  }
}

/** The keys a schema object allows (its `properties`), in the schema's order. */
function allowedKeys(schema: unknown): string[] {
  const properties = (schema as { properties?: unknown } | undefined)?.properties;
  return properties !== null && typeof properties === "object" ? Object.keys(properties) : [];
}

/** The hint of an unknown key: the allowed key it most likely meant, else every allowed key. */
function keyHint(key: string, allowed: readonly string[]): string | undefined {
  if (allowed.length === 0) return undefined;
  const guess = didYouMean(key, allowed);
  return guess === undefined ? `allowed here: ${allowed.join(", ")}` : `did you mean '${guess}'?`;
}

/**
 * Names that other policy languages and habits give to proof's operators and keys, when edit
 * distance cannot find them (`greater` is five edits from `gt`). Used only when the name it
 * points to is allowed at the position.
 */
const ALIASES: Readonly<Record<string, string>> = {
  greater: "gt",
  greater_than: "gt",
  greaterthan: "gt",
  more_than: "gt",
  above: "gt",
  ge: "gte",
  greater_or_equal: "gte",
  greater_than_or_equal: "gte",
  min: "gte",
  less: "lt",
  less_than: "lt",
  lessthan: "lt",
  below: "lt",
  le: "lte",
  less_or_equal: "lte",
  less_than_or_equal: "lte",
  max: "lte",
  equals: "eq",
  equal: "eq",
  is: "eq",
  not_equal: "ne",
  not_equals: "ne",
  neq: "ne",
  regex: "matches",
  regexp: "matches",
  pattern: "matches",
  match: "matches",
  prefix: "starts_with",
  startswith: "starts_with",
  includes: "contains",
  has: "contains",
  one_of: "in",
  any_of: "in",
  none_of: "not_in",
  verdict: "effect",
  action: "effect",
  decision: "effect",
  name: "id",
  rule_id: "id",
  tool_name: "tool",
  arguments: "args",
  params: "args",
  parameters: "args",
  expr: "condition",
  expression: "condition",
  cel: "condition",
};

/** Longest word compared by edit distance: longer ones are no typo of a schema key. */
const MAX_GUESS_LENGTH = 64;

/**
 * The candidate `word` most likely stands for: a known alias (`greater` -> `gt`), else the
 * candidate at the smallest edit distance (optimal string alignment: insert, delete, substitute,
 * swap two neighbours; case, `-` and `_` ignored) when that distance is at most a third of the
 * longer word, and at least 1 (`tools` -> `tool`, `efect` -> `effect`).
 * @returns undefined when no candidate is close enough.
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  if (word.length > MAX_GUESS_LENGTH || candidates.length === 0) return undefined;
  const norm = (s: string) => s.toLowerCase().replace(/-/g, "_");
  const w = norm(word);
  const alias = Object.hasOwn(ALIASES, w) ? ALIASES[w] : undefined;
  if (alias !== undefined && candidates.includes(alias)) return alias;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(w.replace(/_/g, ""), norm(c).replace(/_/g, ""));
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best === undefined || best === word) return undefined;
  const limit = Math.max(1, Math.floor(Math.max(word.length, best.length) / 3));
  return bestDistance <= limit ? best : undefined;
}

/** Optimal string alignment distance between `a` and `b` (both short). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const up = rows[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/** The value at a path of segments, `undefined` where the path leads nowhere. */
function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let value = root;
  for (const segment of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** The JSON Schema type name of a parsed value, as ajv's `type` messages name the expected one. */
function jsonType(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}
