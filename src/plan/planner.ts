import type { CompiledPolicy } from "../verify/compiled.js";
import type { ActivationReason, Plan } from "./plan.js";
import type { SelectedRules, Selector } from "./select.js";

/**
 * Plans one policy for one context (docs/adapt.md): the selector decides which rules are active and
 * what they cost; the order is a stable sort by (cost ascending, rule id ascending in code-unit
 * order). No clock, no randomness: the same inputs give the same bytes.
 * @returns the plan and the selection (for warnings and metrics).
 */
export function planRules(
  policy: CompiledPolicy,
  context: unknown,
  contextDigest: string,
  selector: Selector,
): { plan: Plan; selection: SelectedRules } {
  const selection = selector.select(policy, context);
  // Selectors return rules in id order, so a stable sort on cost alone orders by (cost, id).
  const active = selection.active;
  const ids = active.map((a) => a.rule);
  const order = [...active].sort((a, b) => a.cost - b.cost).map((a) => a.rule);
  const cost: Record<string, number> = {};
  const reason: Record<string, ActivationReason[]> = {};
  let costSum = 0;
  for (const a of active) {
    cost[a.rule] = a.cost;
    reason[a.rule] = a.reason;
    costSum += a.cost;
  }
  const plan: Plan = {
    schema: "proof.plan/v1",
    policy_id: policy.ir.policy_id,
    policy_digest: policy.ir.policy_digest,
    context_digest: contextDigest,
    selector: selector.name,
    active_rules: ids,
    order,
    cost,
    cost_sum: costSum,
    reason,
    skipped: selection.skipped,
  };
  return { plan, selection };
}
