import { inputError, type ProofError } from "../errors.js";
import { validatePlan } from "../generated/validate-plan.js";
import { canonicalJson } from "../io/canonical.js";
import { parseJson } from "../trace/json.js";
import type { CompiledPolicy } from "../verify/compiled.js";
import type { Plan } from "./plan.js";
import { planRules } from "./planner.js";
import { basicSelector, weightedSelector } from "./select.js";

/**
 * Reads a plan file (`proof.plan/v1`, schemas/plan.schema.json) and checks that its lists agree
 * (`order` is a permutation of `active_rules`, every active rule has a cost and a reason).
 * @throws ProofError `plan.invalid` (exit 6).
 */
export function loadPlan(text: string, file: string): Plan {
  const value = parseJson(text, file);
  if (!validatePlan(value)) {
    const e = validatePlan.errors?.[0];
    throw inputError(
      "plan.invalid",
      `not a proof.plan/v1 file: ${e?.instancePath || "(document)"} ${e?.message ?? ""}`.trim(),
      {
        file,
      },
    );
  }
  const plan = value as Plan;
  const active = new Set(plan.active_rules);
  const consistent =
    plan.order.length === active.size &&
    plan.order.every((id) => active.has(id)) &&
    plan.active_rules.every((id) => Object.hasOwn(plan.cost, id) && Object.hasOwn(plan.reason, id));
  if (!consistent) {
    throw inputError(
      "plan.invalid",
      "plan is inconsistent: order, cost and reason must cover exactly active_rules",
      { file },
    );
  }
  return plan;
}

/**
 * Checks that a plan says what the planner says for this policy and context: every rule of the
 * policy is active or skipped as its `when` decides for `context`, with the same reason; with the
 * `basic` selector each cost is the policy's; `order` and `cost_sum` follow from the costs. A plan
 * whose digests match but whose lists were edited (an active rule moved to `skipped`) would
 * otherwise switch rules off unseen. Weights are not in a plan, so under `weighted` its costs
 * stand (they only order rules, never select them).
 * @param contextDigest the digest of `context` (the plan's `context_digest` is checked by the caller)
 * @throws ProofError `plan.mismatch` (exit 6) naming the first rule, in id order, that differs,
 *   or the first field when every rule agrees.
 */
export function checkPlanSelection(
  plan: Plan,
  file: string,
  policy: CompiledPolicy,
  context: unknown,
  contextDigest: string,
): void {
  const costs: Record<string, number> = {};
  for (const [id, cost] of Object.entries(plan.cost)) if (plan.active_rules.includes(id)) costs[id] = cost;
  const selector = plan.selector === "weighted" ? weightedSelector(costs) : basicSelector;
  const expected = planRules(policy, context, contextDigest, selector).plan;
  const mismatch = (what: string): ProofError =>
    inputError(
      "plan.mismatch",
      `plan does not match the policy for its context: ${what}`,
      { file },
      "make a new plan with proof adapt; a plan is not edited by hand",
    );
  const stateOf = (p: Plan, id: string): string => {
    if (p.active_rules.includes(id)) return `active (${(p.reason[id] ?? []).join(", ")})`;
    if (p.skipped.some((s) => s.rule === id)) return "skipped (when:false)";
    return "absent";
  };
  const ids = new Set([
    ...policy.ir.rules.map((r) => r.id),
    ...plan.active_rules,
    ...plan.skipped.map((s) => s.rule),
  ]);
  for (const id of [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const want = stateOf(expected, id);
    const got = stateOf(plan, id);
    if (want !== got) throw mismatch(`rule ${id} is ${got} in the plan but ${want} for this context`);
    if (plan.active_rules.includes(id) && plan.cost[id] !== expected.cost[id])
      throw mismatch(`rule ${id} costs ${plan.cost[id]} in the plan but ${expected.cost[id]} in the policy`);
  }
  for (const field of ["active_rules", "skipped", "order", "cost", "cost_sum", "reason"] as const) {
    if (canonicalJson(plan[field]) !== canonicalJson(expected[field]))
      throw mismatch(`its ${field} is not what the planner gives`);
  }
}
