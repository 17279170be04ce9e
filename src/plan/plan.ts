/**
 * The plan of `proof adapt`, `proof.plan/v1` (docs/adapt.md; schemas/plan.schema.json is generated
 * from this type): which rules of one policy are active for a context, in which order, and why.
 */

/** Why a rule is active: its `when` held, it has none, or it failed to evaluate (fail closed). */
export type ActivationReason = "when:true" | "when:absent" | "when:error";

/** Selectors of `--selector`. */
export type SelectorName = "basic" | "weighted";

/** A rule left out of the plan, with why. */
export interface SkippedRule {
  rule: string;
  reason: "when:false";
}

/** A plan, `proof.plan/v1`. Byte-identical for the same policy, context, selector and weights. */
export interface Plan {
  schema: "proof.plan/v1";
  policy_id: string;
  policy_digest: string;
  /** `sha256:` + hex SHA-256 of the canonical JSON of the parsed context. */
  context_digest: string;
  selector: SelectorName;
  /** Active rule ids, sorted by id. */
  active_rules: string[];
  /** Active rule ids in evaluation order: cost ascending, then id in code-unit order. */
  order: string[];
  /** Cost of each active rule (weights file, else the IR's cost). */
  cost: Record<string, number>;
  cost_sum: number;
  reason: Record<string, ActivationReason[]>;
  /** Rules whose `when` was false, sorted by id. */
  skipped: SkippedRule[];
}
