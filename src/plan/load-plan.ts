import { inputError } from "../errors.js";
import { validatePlan } from "../generated/validators.js";
import { parseJson } from "../trace/json.js";
import type { Plan } from "./plan.js";

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
