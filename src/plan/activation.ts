import type { Activation } from "../verify/engine.js";
import type { ActivationReason, Plan } from "./plan.js";

/** The engine's activation for a plan: exactly its rules, in its order. */
export function activationFromPlan(plan: Plan): Activation {
  const reasons = new Map<string, ActivationReason>();
  for (const id of plan.order) reasons.set(id, plan.reason[id]?.[0] ?? "when:absent");
  return {
    active: new Map([[plan.policy_id, [...plan.order]]]),
    reasons,
    skipped: plan.skipped.map((s) => s.rule),
    warnings: [],
  };
}
