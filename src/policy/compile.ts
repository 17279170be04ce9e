import { combineErrors, inputError, ProofError, type SourceLocation } from "../errors.js";
import {
  CelCompileError,
  CONDITION_VARIABLES,
  compileCel,
  parsedForm,
  requireCel,
  WHEN_VARIABLES,
} from "../expr/cel.js";
import { compileGlob, isGlob } from "../expr/glob.js";
import { operandProblem } from "../expr/matchers.js";
import { compilePattern, PatternTooLargeError, unsupportedSyntaxHint } from "../expr/re2.js";
import { validatePolicy } from "../generated/validate-policy.js";
import { canonicalJson, digestOf } from "../io/canonical.js";
import { VERSION } from "../version.js";
import { FieldPathError, formatFieldPattern, parseFieldPattern } from "./field-path.js";
import { INJECTION_DETECTOR } from "./injection-version.js";
import type {
  ArgCondition,
  Condition,
  EventPattern,
  IRFieldRule,
  IRRule,
  IRSequence,
  IRSource,
  JsonValue,
  MatchOp,
  ProofIR,
  Role,
  ToolIndex,
  Verdict,
} from "./ir.js";
import { MAX_SCHEMA_ERRORS, schemaError } from "./schema-errors.js";
import { locate, type ParsedYaml, parseYaml, pathLabel } from "./yaml.js";

type Matcher = Partial<Record<MatchOp, JsonValue>>;
interface YamlEventPattern {
  role?: Role;
  tool?: string | string[];
  content?: Matcher;
  args?: Record<string, Matcher>;
}
interface YamlRule {
  id: string;
  description?: string;
  when?: string;
  match: {
    tool?: string | string[];
    args?: Record<string, Matcher>;
    provenance?: { args: string | string[]; from: "unknown" | "untrusted" | "injected" };
    sequence?: {
      require_before?: YamlEventPattern;
      forbid_before?: YamlEventPattern;
      since?: YamlEventPattern;
      max_calls?: { count: number; per?: "message" | "turn" | "trace" };
    };
    condition?: string;
  };
  effect: Verdict;
  cost?: number;
  severity?: IRRule["severity"];
  reason?: string;
}
interface YamlPolicy {
  schema: "proof.policy/v1";
  policy_id: string;
  description?: string;
  defaults?: { verdict?: Verdict; fail_closed?: boolean };
  limits?: { max_argument_bytes?: number };
  sources?: {
    tool?: string | string[];
    role?: Role | Role[];
    integrity: IRSource["integrity"];
    fields?: Record<string, IRSource["integrity"]>;
  }[];
  rules: YamlRule[];
}

const OP_ORDER: readonly MatchOp[] = [
  "exists",
  "eq",
  "ne",
  "gt",
  "gte",
  "lt",
  "lte",
  "in",
  "not_in",
  "matches",
  "contains",
  "starts_with",
];

/**
 * Largest cost of one rule (in a policy, an IR or a weights file). The planner sums the costs of
 * the active rules; bounded costs keep that sum an exact integer (far below 2^53 for any policy
 * that fits the input size limit), never a rounded or infinite number that JSON cannot hold.
 */
export const MAX_RULE_COST = 1_000_000_000;

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorts and de-duplicates a list of strings (code-unit order). */
function stringSet(value: string | readonly string[] | undefined): string[] {
  const list = value === undefined ? [] : typeof value === "string" ? [value] : [...value];
  return [...new Set(list)].sort(byCodeUnits);
}

/** Sorts and de-duplicates JSON values by canonical form: `in`/`not_in` operands are sets. */
function valueSet(values: readonly JsonValue[]): JsonValue[] {
  const byKey = new Map<string, JsonValue>();
  for (const v of values) byKey.set(canonicalJson(v), v);
  return [...byKey.keys()].sort(byCodeUnits).map((k) => byKey.get(k) as JsonValue);
}

class Compiler {
  constructor(private readonly parsed: ParsedYaml) {}

  at(path: (string | number)[]): SourceLocation {
    return locate(this.parsed, path);
  }

  conditions(matcher: Matcher, path: (string | number)[]): Condition[] {
    const out: Condition[] = [];
    for (const op of OP_ORDER) {
      if (!(op in matcher)) continue;
      let value = matcher[op] as JsonValue;
      if (op === "in" || op === "not_in") value = valueSet(value as JsonValue[]);
      if (op === "matches") this.pattern(value as string, [...path, op]);
      const problem = operandProblem({ op, value });
      if (problem) throw inputError("policy.wrong_type", problem, this.at([...path, op]));
      out.push({ op, value });
    }
    return out;
  }

  pattern(source: string, path: (string | number)[]): void {
    try {
      compilePattern(source);
    } catch (err) {
      if (err instanceof PatternTooLargeError) {
        const rule =
          path[0] === "rules" ? (this.parsed.value as YamlPolicy).rules[path[1] as number]?.id : undefined;
        throw inputError(
          "policy.pattern_too_large",
          `${rule === undefined ? "a" : `rule '${rule}': its`} pattern at ${pathLabel(path)} is too large: ${err.message}`,
          this.at(path),
          "split the pattern, or match a shorter, more specific one",
        );
      }
      throw inputError(
        "policy.invalid_pattern",
        `invalid RE2 pattern '${source}': ${(err as Error).message}`,
        this.at(path),
        unsupportedSyntaxHint(source),
      );
    }
  }

  tools(value: string | string[] | undefined, path: (string | number)[]): string[] {
    // Checked before sorting, so that the error points at the offending list item.
    const list = value === undefined ? [] : typeof value === "string" ? [value] : value;
    for (const [i, t] of list.entries()) {
      try {
        compileGlob(t);
      } catch (err) {
        const at = typeof value === "string" ? path : [...path, i];
        throw inputError("policy.invalid_pattern", (err as Error).message, this.at(at));
      }
    }
    return stringSet(value);
  }

  args(matchers: Record<string, Matcher> | undefined, path: (string | number)[]): ArgCondition[] {
    if (!matchers) return [];
    return Object.keys(matchers)
      .sort(byCodeUnits)
      .map((p) => ({ path: p, conditions: this.conditions(matchers[p] as Matcher, [...path, p]) }));
  }

  cel(source: string, variables: readonly string[], path: (string | number)[], ruleId: string): string {
    try {
      return compileCel(source, variables).canonical;
    } catch (err) {
      if (!(err instanceof CelCompileError)) throw err;
      const where = err.column === undefined ? "" : ` (at ${err.line}:${err.column} of the expression)`;
      throw inputError(
        "policy.invalid_cel",
        `invalid CEL in rule '${ruleId}' (${pathLabel(path)}): ${err.message}${where}`,
        this.at(path),
      );
    }
  }

  eventPattern(p: YamlEventPattern, path: (string | number)[]): EventPattern {
    const out: EventPattern = {};
    if (p.role !== undefined) out.role = p.role;
    if (p.tool !== undefined) out.tools = this.tools(p.tool, [...path, "tool"]);
    if (p.content !== undefined) out.content = this.conditions(p.content, [...path, "content"]);
    if (p.args !== undefined) out.args = this.args(p.args, [...path, "args"]);
    return out;
  }

  sequence(s: NonNullable<YamlRule["match"]["sequence"]>, path: (string | number)[]): IRSequence {
    const out: IRSequence = {};
    if (s.since && !s.require_before && !s.forbid_before) {
      throw inputError(
        "policy.invalid_sequence",
        "'since' needs 'require_before' or 'forbid_before' beside it",
        this.at([...path, "since"]),
      );
    }
    if (s.require_before)
      out.require_before = this.eventPattern(s.require_before, [...path, "require_before"]);
    if (s.forbid_before) out.forbid_before = this.eventPattern(s.forbid_before, [...path, "forbid_before"]);
    if (s.since) out.since = this.eventPattern(s.since, [...path, "since"]);
    if (s.max_calls) out.max_calls = { count: s.max_calls.count, per: s.max_calls.per ?? "turn" };
    return out;
  }

  rule(r: YamlRule, index: number): IRRule {
    const path: (string | number)[] = ["rules", index];
    const m = r.match;
    if (r.cost !== undefined && r.cost > MAX_RULE_COST) {
      throw inputError(
        "policy.invalid_value",
        `cost of rule '${r.id}' is ${r.cost}, more than the limit of ${MAX_RULE_COST}`,
        this.at([...path, "cost"]),
      );
    }
    const rule: IRRule = {
      id: r.id,
      match: {
        tools: this.tools(m.tool, [...path, "match", "tool"]),
        args: this.args(m.args, [...path, "match", "args"]),
      },
      effect: r.effect,
      cost: r.cost ?? 1,
      severity: r.severity ?? "medium",
      reason: r.reason ?? (r.id.replace(/[^a-z0-9_]/g, "_").replace(/^[^a-z]+/, "") || "rule"),
    };
    if (r.description !== undefined) rule.description = r.description;
    if (r.when !== undefined) {
      rule.when = this.cel(r.when, WHEN_VARIABLES, [...path, "when"], r.id);
      rule.when_parsed = parsedForm(rule.when);
    }
    if (m.provenance) {
      rule.match.provenance = { args: stringSet(m.provenance.args), from: m.provenance.from };
    }
    if (m.sequence) rule.match.sequence = this.sequence(m.sequence, [...path, "match", "sequence"]);
    if (m.condition !== undefined) {
      rule.match.condition = this.cel(
        m.condition,
        CONDITION_VARIABLES,
        [...path, "match", "condition"],
        r.id,
      );
      rule.match.condition_parsed = parsedForm(rule.match.condition);
    }
    return rule;
  }

  sources(list: YamlPolicy["sources"]): IRSource[] {
    const byKey = new Map<string, IRSource>();
    for (const [i, s] of (list ?? []).entries()) {
      const source: IRSource = {
        tools: this.tools(s.tool, ["sources", i, "tool"]),
        roles: stringSet(s.role) as Role[],
        integrity: s.integrity,
      };
      if (s.fields !== undefined) source.fields = this.fields(s.fields, ["sources", i, "fields"]);
      byKey.set(canonicalJson(source), source);
    }
    return [...byKey.keys()].sort(byCodeUnits).map((k) => byKey.get(k) as IRSource);
  }

  /**
   * Field rules of a source entry, each path in canonical form, sorted by path. Two spellings of
   * one path (`a["b"]` and `a.b`) are one rule: they must agree on the integrity.
   */
  fields(fields: Record<string, IRSource["integrity"]>, path: (string | number)[]): IRFieldRule[] {
    const byPath = new Map<string, { integrity: IRSource["integrity"]; key: string }>();
    for (const [key, integrity] of Object.entries(fields)) {
      let canonical: string;
      try {
        canonical = formatFieldPattern(parseFieldPattern(key));
      } catch (err) {
        if (!(err instanceof FieldPathError)) throw err;
        throw inputError(
          "policy.invalid_field_path",
          `invalid field path: ${err.message}`,
          locate(this.parsed, path, key),
          'write keys as name.name, list items as [*] or [3], any depth as **, and keys with dots or spaces as ["a.b"]',
        );
      }
      const seen = byPath.get(canonical);
      if (seen && seen.integrity !== integrity) {
        throw inputError(
          "policy.duplicate_field",
          `field paths '${seen.key}' and '${key}' are the same path '${canonical}' with different integrity`,
          locate(this.parsed, path, key),
        );
      }
      byPath.set(canonical, { integrity, key });
    }
    return [...byPath.keys()].sort(byCodeUnits).map((p) => ({
      path: p,
      integrity: (byPath.get(p) as { integrity: IRSource["integrity"] }).integrity,
    }));
  }

  policy(p: YamlPolicy): ProofIR {
    // The CEL engine is loaded on demand (src/expr/cel.ts): asked for before any work, so that a
    // caller that loads it and compiles again repeats little.
    if (p.rules.some((r) => r.when !== undefined || r.match.condition !== undefined)) {
      requireCel(`policy '${p.policy_id}'`);
    }
    // Every rule is compiled even after one fails, so that one run names every invalid rule.
    const problems: ProofError[] = [];
    const collect = <T>(compile: () => T): T | undefined => {
      try {
        return compile();
      } catch (err) {
        if (!(err instanceof ProofError)) throw err;
        problems.push(err);
        return undefined;
      }
    };
    const seen = new Map<string, number>();
    for (const [i, r] of p.rules.entries()) {
      const first = seen.get(r.id);
      if (first !== undefined) {
        problems.push(
          inputError(
            "policy.duplicate_rule",
            `rule id '${r.id}' is used twice (rules[${first}] and rules[${i}])`,
            this.at(["rules", i, "id"]),
          ),
        );
      }
      seen.set(r.id, i);
    }
    const compiled = p.rules.map((r, i) => collect(() => this.rule(r, i)));
    const sources = collect(() => this.sources(p.sources));
    if (problems.length > 0) throw combineErrors(problems, MAX_SCHEMA_ERRORS);
    const rules = (compiled as IRRule[]).sort((a, b) => byCodeUnits(a.id, b.id));
    const ir: ProofIR = {
      schema: "proof.ir/v1",
      policy_id: p.policy_id,
      compiler: `proof/${VERSION}`,
      policy_digest: "",
      defaults: { verdict: p.defaults?.verdict ?? "allow", fail_closed: p.defaults?.fail_closed ?? true },
      // Only limits the policy sets: a policy without any keeps the digest it always had.
      ...(p.limits?.max_argument_bytes !== undefined
        ? { limits: { max_argument_bytes: p.limits.max_argument_bytes } }
        : {}),
      sources: sources as IRSource[],
      // Only a policy that asks for injected content depends on the detector's rules: every other
      // policy keeps the IR bytes and digest it had before the detector existed.
      ...(rules.some((r) => r.match.provenance?.from === "injected")
        ? { injection_detector: INJECTION_DETECTOR }
        : {}),
      rules,
      tool_index: buildToolIndex(rules),
    };
    if (p.description !== undefined) ir.description = p.description;
    ir.policy_digest = policyDigest(ir);
    return ir;
  }
}

/** Maps exact tool names to the ids of rules naming them; rules with globs or no tools go to `patterns`. */
export function buildToolIndex(rules: readonly IRRule[]): ToolIndex {
  // No prototype: a tool may be called `__proto__`, which would otherwise set the prototype
  // instead of adding an entry.
  const exact: Record<string, string[]> = Object.create(null);
  const patterns: string[] = [];
  for (const rule of rules) {
    const tools = rule.match.tools;
    if (tools.length === 0 || tools.some(isGlob)) {
      patterns.push(rule.id);
      continue;
    }
    for (const t of tools) {
      if (!Object.hasOwn(exact, t)) exact[t] = [];
      (exact[t] as string[]).push(rule.id);
    }
  }
  return { exact, patterns };
}

/**
 * The policy digest of docs/policy.md: `sha256:` + hex SHA-256 over the RFC 8785 canonical JSON of
 * the IR without `policy_digest`, `compiler` and every `description`. The parsed forms of CEL
 * expressions are left out too: they are derived from the canonical text, which is digested, and
 * checked against it when an IR is loaded.
 */
export function policyDigest(ir: ProofIR): string {
  const { policy_digest: _d, compiler: _c, description: _desc, rules, ...rest } = ir;
  const semanticRules = rules.map(({ description: _rd, when_parsed: _wp, match, ...r }) => {
    const { condition_parsed: _cp, ...semanticMatch } = match;
    return { ...r, match: semanticMatch };
  });
  return digestOf({ ...rest, rules: semanticRules });
}

/**
 * Compiles `proof.policy/v1` YAML to the IR: validates against `schemas/policy.schema.json`,
 * fills defaults, sorts rules by id and set-like lists, checks CEL and RE2, builds the tool index
 * and computes the digest.
 * @throws ProofError (exit 6) naming file, line and column for YAML, schema, CEL, RE2 or
 *   duplicate-id errors: a ProofErrors listing every schema error when the schema is not met,
 *   else every rule that does not compile (its first problem each), sorted by position.
 * @throws CelNotLoadedError when a rule has CEL and the engine is not loaded (`loadCel`, `withCel`
 *   of src/expr/cel.ts), before compiling any rule.
 */
export function compilePolicy(text: string, file: string): ProofIR {
  const parsed = parseYaml(text, file);
  if (parsed.value === null || parsed.value === undefined) {
    throw inputError("policy.empty", `${file} is empty: a policy needs schema, policy_id and rules`, {
      file,
      line: 1,
      column: 1,
    });
  }
  if (!validatePolicy(parsed.value)) throw schemaError(parsed, validatePolicy.errors, "policy");
  return new Compiler(parsed).policy(parsed.value as YamlPolicy);
}
