/**
 * The compiled policy IR, `proof.ir/v1` (docs/policy.md). `schemas/ir.schema.json` is generated
 * from these types (`npm run gen:schemas`) and a test fails when the two drift apart.
 */

/** A JSON value as it appears in a policy operand or a tool call argument. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** What a rule does to a matching tool call, and the verdict of a call or trace. */
export type Verdict = "allow" | "warn" | "require_approval" | "block";

/** Integrity a policy can give content, highest first: `trusted > unknown > untrusted`. */
export type Integrity = "trusted" | "unknown" | "untrusted";

/**
 * Integrity levels a provenance condition can ask for. `injected`, below `untrusted`, is never
 * given by a policy: the injection detector (docs/policy.md, "Injected content") gives it to spans
 * of untrusted or unknown content that carry instructions addressed to the agent.
 */
export type ProvenanceLevel = "unknown" | "untrusted" | "injected";

/** How bad a finding is, for reports. */
export type Severity = "low" | "medium" | "high" | "critical";

/** Roles of canonical message events; `tool` in an event pattern stands for tool results. */
export type Role = "system" | "user" | "assistant" | "tool";

/** Argument and content operators of docs/policy.md. */
export type MatchOp =
  | "eq"
  | "ne"
  | "gt"
  | "gte"
  | "lt"
  | "lte"
  | "in"
  | "not_in"
  | "matches"
  | "contains"
  | "starts_with"
  | "exists";

/** One operator applied to one value: `{op: "gt", value: 0}`. `in`/`not_in` operands are sorted sets. */
export interface Condition {
  op: MatchOp;
  value: JsonValue;
}

/** Conditions on one argument path (dot notation for nested values), ANDed. */
export interface ArgCondition {
  path: string;
  conditions: Condition[];
}

/**
 * Integrity of the leaves of a structured (JSON or YAML) tool result at a field path
 * (src/policy/field-path.ts grammar, canonical form), e.g. `[*].recipient`.
 */
export interface IRFieldRule {
  path: string;
  integrity: Integrity;
}

/** A provenance source entry: results of these tools (globs) or messages of these roles have this integrity. */
export interface IRSource {
  tools: string[];
  roles: Role[];
  integrity: Integrity;
  /**
   * Integrity of fields of these tools' structured results, sorted by path; a leaf no rule names
   * has `integrity`. Absent when the entry has none (so older IRs keep their bytes and digest).
   */
  fields?: IRFieldRule[];
}

/** A pattern over earlier events of a trace (docs/policy.md, "Sequence"). Absent fields match anything. */
export interface EventPattern {
  role?: Role;
  tools?: string[];
  content?: Condition[];
  args?: ArgCondition[];
}

/** Per-rule call limit: the call that exceeds `count` calls within the scope matches. */
export interface MaxCalls {
  count: number;
  /** `message`: one assistant message; `turn`: from one user message to the next; `trace`: the whole trace. */
  per: "message" | "turn" | "trace";
}

/** Sequence conditions of a rule. */
export interface IRSequence {
  require_before?: EventPattern;
  forbid_before?: EventPattern;
  since?: EventPattern;
  max_calls?: MaxCalls;
}

/** Provenance condition: any leaf value of these arguments came from content at or below `from`. */
export interface IRProvenance {
  args: string[];
  from: ProvenanceLevel;
}

/** Conditions of a rule; all present ones are ANDed. `tools` empty means every tool. */
export interface IRMatch {
  tools: string[];
  args: ArgCondition[];
  provenance?: IRProvenance;
  sequence?: IRSequence;
  /** CEL over `{tool, args, context}`, in canonical unparsed form. */
  condition?: string;
  /** Parsed form of `condition` (see `IRRule.when_parsed`); not part of the digest. */
  condition_parsed?: string;
}

/** A compiled rule. */
export interface IRRule {
  id: string;
  description?: string;
  /** CEL over `context`, in canonical unparsed form; absent means always active. */
  when?: string;
  /**
   * Parsed form of `when`: base64 of the protobuf binary `cel.expr.ParsedExpr` (google/cel-spec
   * syntax.proto), so loading the IR needs no CEL parse. Derived from `when` and checked against
   * it on load; not part of the digest.
   */
  when_parsed?: string;
  match: IRMatch;
  effect: Verdict;
  /** Non-negative integer, planner cost model. */
  cost: number;
  severity: Severity;
  /** snake_case reason code. */
  reason: string;
}

/** Which rules a tool name can match: exact names, and rules with glob patterns or no tool list. */
export interface ToolIndex {
  exact: Record<string, string[]>;
  patterns: string[];
}

/** Policy-wide defaults. */
export interface IRDefaults {
  /** Verdict of a tool call no rule matches. */
  verdict: Verdict;
  /** `true`: an evaluation error blocks; `false` (observe mode): it warns. Reported either way. */
  fail_closed: boolean;
}

/**
 * Resource limits of a policy (docs/policy.md, "Limits"). Only the limits the policy sets are
 * present (and digested); any other has its default.
 */
export interface IRLimits {
  /**
   * Most bytes of one call's arguments, counted as UTF-8 of their compact JSON text. A call over
   * it is not judged: it is an evaluation error (block when `fail_closed`). Default 1048576 (1 MiB).
   */
  max_argument_bytes?: number;
}

/** A compiled policy, `proof.ir/v1`. */
export interface ProofIR {
  schema: "proof.ir/v1";
  policy_id: string;
  description?: string;
  /** `proof/<version>` of the compiler; not part of the digest. */
  compiler: string;
  /** `sha256:` + hex SHA-256 of the canonical JSON of the semantic part. */
  policy_digest: string;
  defaults: IRDefaults;
  /** Absent when the policy sets no limit. */
  limits?: IRLimits;
  sources: IRSource[];
  /**
   * Version of the injection detector (`injection/1`), present exactly when a rule asks for
   * `from: injected`: the detector's rules decide such a rule's verdicts, so they enter the digest.
   */
  injection_detector?: string;
  /** Sorted by id, code-unit order. */
  rules: IRRule[];
  tool_index: ToolIndex;
}
