/**
 * `proof adapt` as library functions: resolve the one policy a plan is for, and plan which of its
 * rules apply to a context (src/plan/planner.ts). The command and `POST /v1/adapt` call them.
 */
import { performance } from "node:perf_hooks";
import { inputError, ProofError } from "../errors.js";
import { digestOf } from "../io/canonical.js";
import { fileSize } from "../io/files.js";
import { loadPolicySet } from "../io/policy-files.js";
import type { Plan } from "../plan/plan.js";
import { planRules } from "../plan/planner.js";
import { basicSelector, type SelectedRules, type Selector, weightedSelector } from "../plan/select.js";
import type { PolicySet } from "../policy/set.js";

/**
 * The policy set of one policy out of a set: what a plan is made for (its bundle digest is that
 * of the one policy, as loading its file alone gives).
 * @returns undefined when no policy of the set has this id.
 */
export function onePolicy(set: PolicySet, policyId: string): PolicySet | undefined {
  const index = set.irs.findIndex((ir) => ir.policy_id === policyId);
  const ir = set.irs[index];
  const compiled = set.compiled[index];
  if (!ir || !compiled) return undefined;
  return { irs: [ir], compiled: [compiled], bundleDigest: digestOf([ir.policy_digest]) };
}

/**
 * Resolves `--policy` of `proof adapt`: a path to a YAML policy or IR file, or a policy id looked
 * up among the policies of the policy directory. A plan is made for exactly one policy.
 * @throws ProofError `policy.not_found` / `plan.policy_mismatch` (exit 6).
 */
export async function resolvePlanPolicy(policy: string, policyDir: string): Promise<PolicySet> {
  let isPath = true;
  try {
    await fileSize(policy);
  } catch (err) {
    if (!(err instanceof ProofError) || !/^[a-z0-9_.-]+$/.test(policy)) throw err;
    isPath = false;
  }
  if (isPath) {
    const set = await loadPolicySet(policy);
    if (set.irs.length !== 1) {
      throw inputError(
        "plan.policy_mismatch",
        `a plan is made for one policy; ${policy} holds ${set.irs.length}`,
        { file: policy },
      );
    }
    return set;
  }
  const all = await loadPolicySet(policyDir);
  const found = onePolicy(all, policy);
  if (!found) {
    throw inputError(
      "policy.not_found",
      `no file or policy id '${policy}' (policy ids in ${policyDir}: ${all.irs.map((i) => i.policy_id).join(", ")})`,
    );
  }
  return found;
}

/** What {@link makePlan} plans for. */
export interface PlanInput {
  /** One policy (see {@link onePolicy}). */
  policies: PolicySet;
  context: Record<string, unknown>;
  selector: "basic" | "weighted";
  /** Rule costs for the weighted selector (already checked against the policy's rule ids). */
  weights?: Record<string, number>;
}

/**
 * Plans which rules of the policy apply to the context, in which order, and why: the plan
 * `proof adapt` writes, byte-identical for the same policy, context, selector and weights.
 * @returns the plan, the selection (warnings, `when` failures) and the time it took in seconds.
 * @throws ProofError `policy.none` (exit 6) when the set holds no policy.
 */
export function makePlan(input: PlanInput): { plan: Plan; selection: SelectedRules; seconds: number } {
  const policy = input.policies.compiled[0];
  if (!policy) throw inputError("policy.none", "no policy");
  const selector: Selector =
    input.selector === "weighted" ? weightedSelector(input.weights ?? {}) : basicSelector;
  const started = performance.now();
  const { plan, selection } = planRules(policy, input.context, digestOf(input.context), selector);
  return { plan, selection, seconds: (performance.now() - started) / 1000 };
}
