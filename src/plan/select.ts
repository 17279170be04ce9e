import type { CompiledCel } from "../expr/cel.js";
import type { CompiledPolicy } from "../verify/compiled.js";
import type { ActivationReason, SelectorName, SkippedRule } from "./plan.js";

/** What a selector decides for one policy and context. */
export interface SelectedRules {
  /** Active rules in id order (code units), with their reasons and costs. */
  active: { rule: string; reason: ActivationReason[]; cost: number }[];
  /** Rules whose `when` was false, in id order. */
  skipped: SkippedRule[];
  /** One message per `when` that failed to evaluate (never holding context values). */
  warnings: string[];
  /** Number of `when` evaluations that failed. */
  failures: number;
}

/** A rule selector: `select(policy, context) -> SelectedRules`, pure and deterministic. */
export interface Selector {
  readonly name: SelectorName;
  select(policy: CompiledPolicy, context: unknown): SelectedRules;
}

/** Context values shorter than this are left in messages: too short to identify anything. */
const MIN_REDACTED_LENGTH = 3;

/**
 * Removes context values from an evaluation error message (CEL quotes offending values, e.g.
 * "Cannot convert <value> to a BigInt"), so that logs carry rule ids and digests, never context.
 */
export function redact(message: string, context: unknown): string {
  const values: string[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === "string" || typeof v === "number") {
      const text = String(v);
      if (text.length >= MIN_REDACTED_LENGTH) values.push(text);
    } else if (Array.isArray(v)) for (const x of v) collect(x);
    else if (v !== null && typeof v === "object") for (const x of Object.values(v)) collect(x);
  };
  collect(context);
  let out = message;
  for (const v of values.sort((a, b) => b.length - a.length)) out = out.split(v).join("<redacted>");
  return out;
}

/**
 * A policy's `when` predicates, looked up once rather than per plan: the distinct ones, and per IR
 * rule (in the IR's order) the index of its predicate among them, or -1 for a rule without one.
 */
interface Whens {
  distinct: CompiledCel[];
  of: Int32Array;
}

const WHENS = new WeakMap<CompiledPolicy, Whens>();

function whensOf(policy: CompiledPolicy): Whens {
  let whens = WHENS.get(policy);
  if (!whens) {
    // Identical expressions are one compiled object (compileCel caches by text), so the object
    // identifies the predicate: each distinct one is evaluated once per context.
    const index = new Map<CompiledCel, number>();
    const of = new Int32Array(policy.ir.rules.length);
    for (const [i, rule] of policy.ir.rules.entries()) {
      const when = policy.rules.get(rule.id)?.when;
      if (when === undefined) of[i] = -1;
      else {
        if (!index.has(when)) index.set(when, index.size);
        of[i] = index.get(when) as number;
      }
    }
    whens = { distinct: [...index.keys()], of };
    WHENS.set(policy, whens);
  }
  return whens;
}

/**
 * Evaluates every rule's `when` for a context, visiting rules in the IR's id order. Identical predicates (same canonical CEL) are
 * evaluated once. A `when` that fails keeps its rule active (fail closed) with reason
 * `when:error` and a warning naming the rule, not the context's values.
 */
function activate(
  policy: CompiledPolicy,
  context: unknown,
  costOf: (rule: string, irCost: number) => number,
): SelectedRules {
  const out: SelectedRules = { active: [], skipped: [], warnings: [], failures: 0 };
  // Each distinct predicate is evaluated once per context, on first use. A failure's message is
  // redacted once per predicate too: rules sharing a failing predicate (a missing context field)
  // would otherwise each walk the context again.
  const whens = whensOf(policy);
  const memo: ({ value: boolean } | { error: string; redacted?: string } | undefined)[] = new Array(
    whens.distinct.length,
  );
  const rules = policy.ir.rules;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as (typeof rules)[number];
    const w = whens.of[i] as number;
    let reason: ActivationReason;
    if (w === -1) reason = "when:absent";
    else {
      let result = memo[w];
      if (!result) {
        result = (whens.distinct[w] as CompiledCel).evaluate({ context });
        memo[w] = result;
      }
      if ("error" in result) {
        reason = "when:error";
        out.failures++;
        result.redacted ??= redact(result.error, context);
        out.warnings.push(
          `rule ${rule.id}: 'when' failed to evaluate (${result.redacted}); the rule stays active`,
        );
      } else if (result.value) reason = "when:true";
      else {
        out.skipped.push({ rule: rule.id, reason: "when:false" });
        continue;
      }
    }
    out.active.push({ rule: rule.id, reason: [reason], cost: costOf(rule.id, rule.cost) });
  }
  return out;
}

/** `basic`: the rules whose `when` is true or absent (or failed), at the IR's costs. */
export const basicSelector: Selector = {
  name: "basic",
  select: (policy, context) => activate(policy, context, (_id, irCost) => irCost),
};

/**
 * `weighted`: as `basic`, with each rule's cost taken from a weights map (`{rule_id: cost}`,
 * validated by {@link parseWeights}), falling back to the IR's cost.
 */
export function weightedSelector(weights: Readonly<Record<string, number>>): Selector {
  return {
    name: "weighted",
    select: (policy, context) =>
      activate(policy, context, (id, irCost) =>
        Object.hasOwn(weights, id) ? (weights[id] as number) : irCost,
      ),
  };
}
