/**
 * Policy coverage (docs/testing.md, "Coverage"): over a corpus of traces, whether each rule fired
 * and whether each of its conditions was evaluated both true and false. Pure: the engine feeds a
 * {@link CoverageCollector} while it decides, and {@link CoverageCollector.summary} assembles the
 * `coverage.json` document (`proof.coverage/v1`, schemas/coverage.schema.json).
 *
 * Conditions are evaluated the way the engine decides: in order, stopping at the first false one
 * (arguments, then provenance, then sequence, then CEL), so a condition after a false one is not
 * evaluated for that call and counts neither true nor false. An evaluation error counts as
 * neither outcome; it is counted on the rule (`errors`).
 */
import type { IRRule } from "../policy/ir.js";
import type { CompiledPolicy } from "./compiled.js";

/** Outcomes of one condition of a rule over the corpus. */
export interface ConditionCoverage {
  /**
   * Which condition: `args.<path>` (one argument's matchers), `provenance.<path>` (one provenance
   * argument: true when one of its values came from content at or below `from`),
   * `sequence.require_before` (true: the required event is absent), `sequence.forbid_before`
   * (true: the forbidden event is present), `sequence.max_calls` (true: over the limit), or
   * `condition` (the CEL condition).
   */
  condition: string;
  /** Evaluations that gave true. */
  true: number;
  /** Evaluations that gave false. */
  false: number;
}

/** Coverage of one rule. */
export interface RuleCoverage {
  id: string;
  /** Whether the rule was active (its `when` true or absent, or in the plan) in at least one run. */
  active: boolean;
  /** Tool calls the rule was evaluated on (active, and its tool list matched the call). */
  evaluated: number;
  /** Tool calls the rule matched without an evaluation error (its effect applied). */
  fired: number;
  /** Tool calls on which evaluating the rule failed (fail closed or observe mode). */
  errors: number;
  /** In evaluation order. */
  conditions: ConditionCoverage[];
}

/** Coverage of one policy's rules, sorted by rule id. */
export interface PolicyCoverage {
  policy_id: string;
  policy_digest: string;
  rules: RuleCoverage[];
}

/** Covered and total counts, and their percentage (floored to 2 decimals; 100 when total is 0). */
export interface CoverageRatio {
  covered: number;
  total: number;
  percent: number;
}

/**
 * `coverage.json`, `proof.coverage/v1`. The headline `percent` is over outcomes: each rule has one
 * (it fired at least once) and each condition two (evaluated true at least once, false at least
 * once); `percent` = covered outcomes / all outcomes × 100, floored to 2 decimals.
 */
export interface CoverageReport {
  schema: "proof.coverage/v1";
  /** Tool calls the collector saw. */
  tool_calls: number;
  /** Rule and condition outcomes together: the number `--min-coverage` is compared with. */
  outcomes: CoverageRatio;
  /** Rules that fired at least once, of all rules. */
  rules: CoverageRatio;
  /** Condition outcomes (true, false) seen at least once, of twice the number of conditions. */
  conditions: CoverageRatio;
  /** The threshold of the run (`--min-coverage`), or null without one. */
  min_percent: number | null;
  /** False when `outcomes` is below `min_percent`. */
  passed: boolean;
  /** Ids of the rules that never fired on the corpus, sorted. */
  dead: string[];
  /** Sorted by policy id. */
  policies: PolicyCoverage[];
}

/** Live counters of one rule, fed by the engine. */
export class RuleCounters {
  active = false;
  evaluated = 0;
  fired = 0;
  errors = 0;
  readonly trues: number[];
  readonly falses: number[];
  readonly names: readonly string[];
  /** Where each kind of condition is in `names`. */
  readonly index: ConditionIndex;

  constructor(rule: IRRule) {
    this.names = conditionNames(rule);
    this.index = conditionIndex(rule);
    this.trues = this.names.map(() => 0);
    this.falses = this.names.map(() => 0);
  }

  /** Records condition `index` (see {@link conditionNames}) evaluated to `value`. */
  record(index: number, value: boolean): void {
    if (value) this.trues[index] = (this.trues[index] ?? 0) + 1;
    else this.falses[index] = (this.falses[index] ?? 0) + 1;
  }
}

/**
 * The conditions of a rule in evaluation order, as {@link ConditionCoverage.condition} names them.
 * The engine records by index into this list: args first, then provenance arguments, then the
 * sequence clauses present (`require_before`, `forbid_before`, `max_calls`), then `condition`.
 */
export function conditionNames(rule: IRRule): string[] {
  const m = rule.match;
  const names = m.args.map((a) => `args.${a.path}`);
  for (const arg of m.provenance?.args ?? []) names.push(`provenance.${arg}`);
  if (m.sequence?.require_before) names.push("sequence.require_before");
  if (m.sequence?.forbid_before) names.push("sequence.forbid_before");
  if (m.sequence?.max_calls) names.push("sequence.max_calls");
  if (m.condition !== undefined) names.push("condition");
  return names;
}

/** Index of each sequence clause and of the CEL condition in {@link conditionNames}, or -1. */
export interface ConditionIndex {
  provenance: number;
  requireBefore: number;
  forbidBefore: number;
  maxCalls: number;
  condition: number;
}

/** Where each kind of condition starts in {@link conditionNames} of a rule. */
export function conditionIndex(rule: IRRule): ConditionIndex {
  const names = conditionNames(rule);
  const at = (n: string) => names.indexOf(n);
  return {
    provenance: rule.match.args.length,
    requireBefore: at("sequence.require_before"),
    forbidBefore: at("sequence.forbid_before"),
    maxCalls: at("sequence.max_calls"),
    condition: at("condition"),
  };
}

function ratio(covered: number, total: number): CoverageRatio {
  // Floored, so that 99.999% is never shown (or judged) as 100%.
  const percent = total === 0 ? 100 : Math.floor((covered * 10000) / total) / 100;
  return { covered, total, percent };
}

function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Collects coverage across every engine it is given to (`new Engine(policies, activation,
 * context, collector)`) and every trace those engines judge: one collector for a whole corpus or
 * test suite. Policies are registered by the engines (by id and digest); rules of a policy no
 * engine ran are not listed. Memory is one counter per rule and condition, whatever the corpus.
 */
export class CoverageCollector {
  private readonly policies = new Map<
    string,
    { id: string; digest: string; rules: Map<string, RuleCounters> }
  >();
  private calls = 0;

  /** Registers policies (idempotent) and marks their active rules; called by the engine. */
  register(policies: readonly CompiledPolicy[], active: ReadonlyMap<string, readonly string[]>): void {
    for (const p of policies) {
      const key = `${p.ir.policy_id}\u0000${p.ir.policy_digest}`;
      let entry = this.policies.get(key);
      if (!entry) {
        entry = { id: p.ir.policy_id, digest: p.ir.policy_digest, rules: new Map() };
        for (const r of p.ir.rules) entry.rules.set(r.id, new RuleCounters(r));
        this.policies.set(key, entry);
      }
      for (const id of active.get(p.ir.policy_id) ?? []) {
        const counters = entry.rules.get(id);
        if (counters) counters.active = true;
      }
    }
  }

  /** The counters of a rule of a registered policy. @throws Error for a policy not registered */
  rule(policy: CompiledPolicy, ruleId: string): RuleCounters {
    const counters = this.policies
      .get(`${policy.ir.policy_id}\u0000${policy.ir.policy_digest}`)
      ?.rules.get(ruleId);
    if (!counters) throw new Error(`coverage: rule ${ruleId} of ${policy.ir.policy_id} is not registered`);
    return counters;
  }

  /** Counts one decided tool call. */
  call(): void {
    this.calls++;
  }

  /**
   * The coverage document. Deterministic: policies by id then digest, rules by id, conditions in
   * evaluation order.
   * @param minPercent the `--min-coverage` threshold (0-100), or null
   */
  summary(minPercent: number | null = null): CoverageReport {
    const policies: PolicyCoverage[] = [];
    let rulesFired = 0;
    let ruleCount = 0;
    let condCovered = 0;
    let condTotal = 0;
    const dead: string[] = [];
    const entries = [...this.policies.values()].sort((a, b) => byId(a.id, b.id) || byId(a.digest, b.digest));
    for (const p of entries) {
      const rules: RuleCoverage[] = [];
      for (const id of [...p.rules.keys()].sort(byId)) {
        const c = p.rules.get(id) as RuleCounters;
        ruleCount++;
        if (c.fired > 0) rulesFired++;
        else dead.push(id);
        const conditions = c.names.map((condition, i) => {
          const t = c.trues[i] ?? 0;
          const f = c.falses[i] ?? 0;
          condTotal += 2;
          condCovered += (t > 0 ? 1 : 0) + (f > 0 ? 1 : 0);
          return { condition, true: t, false: f };
        });
        rules.push({
          id,
          active: c.active,
          evaluated: c.evaluated,
          fired: c.fired,
          errors: c.errors,
          conditions,
        });
      }
      policies.push({ policy_id: p.id, policy_digest: p.digest, rules });
    }
    const outcomes = ratio(rulesFired + condCovered, ruleCount + condTotal);
    return {
      schema: "proof.coverage/v1",
      tool_calls: this.calls,
      outcomes,
      rules: ratio(rulesFired, ruleCount),
      conditions: ratio(condCovered, condTotal),
      min_percent: minPercent,
      passed: meetsMinimum(outcomes, minPercent),
      dead: [...new Set(dead)].sort(byId),
      policies,
    };
  }
}

/**
 * Whether a ratio reaches a threshold, compared exactly (covered × 100 ≥ min × total), not on the
 * floored percentage. No threshold always passes.
 */
export function meetsMinimum(
  r: Pick<CoverageRatio, "covered" | "total">,
  minPercent: number | null,
): boolean {
  if (minPercent === null || r.total === 0) return true;
  return r.covered * 100 >= minPercent * r.total;
}
