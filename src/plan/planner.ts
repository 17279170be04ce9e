import type { CompiledPolicy } from "../verify/compiled.js";
import type { ActivationReason, Plan } from "./plan.js";
import type { SelectedRules, Selector } from "./select.js";

/**
 * Plans one policy for one context (docs/adapt.md): the selector decides which rules are active and
 * what they cost; the order is a stable sort by (cost ascending, rule id ascending in code-unit
 * order). No clock, no randomness: the same inputs give the same bytes.
 * @returns the plan and the selection (for warnings and metrics). The plan's `cost` and `reason`
 *   records have no prototype (test a rule with `Object.hasOwn` or `in`, not `hasOwnProperty`).
 */
export function planRules(
  policy: CompiledPolicy,
  context: unknown,
  contextDigest: string,
  selector: Selector,
): { plan: Plan; selection: SelectedRules } {
  const selection = selector.select(policy, context);
  // Selectors return rules in id order, so grouping by cost, each group in the order met, and
  // taking the groups by ascending cost orders by (cost, id): a stable sort on cost in one pass.
  const active = selection.active;
  const ids = active.map((a) => a.rule);
  const byCost = new Map<number, string[]>();
  for (const a of active) {
    const group = byCost.get(a.cost);
    if (group) group.push(a.rule);
    else byCost.set(a.cost, [a.rule]);
  }
  // Pushed one by one: `flatMap` was the dearest line of planning a 1,000-rule policy.
  const order: string[] = [];
  for (const c of [...byCost.keys()].sort((x, y) => x - y))
    for (const id of byCost.get(c) as string[]) order.push(id);
  // Records without a prototype: V8 keeps them as hash tables from the first key, where a plain
  // object keyed by hundreds of rule ids first builds a hidden class per key (most of a large
  // policy's planning time outside CEL). They serialise alike, and any id is an own key.
  const cost: Record<string, number> = Object.create(null);
  const reason: Record<string, ActivationReason[]> = Object.create(null);
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
