/**
 * The comparison of `proof regress run` (docs/baselines.md): the current result of every case against
 * its baseline, as transitions, and which of them fail the gate.
 */
import type { Verdict } from "../policy/ir.js";
import { atLeast, VERDICT_ORDER } from "../verify/decision.js";
import type { Baseline, BaselinePolicy, CaseRecord } from "./baseline.js";
import { countsOf, type GroupedCase, groupTrials, passes, passHatK, type VerdictCounts } from "./trials.js";

/** Which verdict transitions fail the gate: only less restrictive ones, or any. */
export type RegressionMode = "loosened" | "any";

/**
 * How a case differs from its baseline:
 * - `loosened`: its verdict is less restrictive than recorded (a regression); for a case with
 *   trials, its pass rate rose by more than `--trials-tolerance`;
 * - `tightened`: more restrictive (a regression unless `--fail-on-regression loosened`); for a
 *   case with trials, its pass rate fell by more than `--trials-tolerance`;
 * - `changed`: same verdict (or pass rate within the tolerance), but other rules, other decisions,
 *   another trace or other trial counts (never fails);
 * - `missing`: recorded, but no current trace has its case id (fails unless `--allow-missing`);
 * - `new`: not recorded; judged by `--fail-on` like `verify`.
 */
export type TransitionKind = "loosened" | "tightened" | "changed" | "missing" | "new";

/** What differs in a `changed` case. */
export type ChangeField = "rules" | "decisions" | "trace" | "trials";

/** The trials of a case on one side of a transition. */
export interface TrialState {
  /** Number of trials. */
  n: number;
  /** Trials whose verdict is below the run's `--fail-on`. */
  passed: number;
  /** Trials at each verdict. */
  verdicts: VerdictCounts;
}

/** A case's result on one side of a transition. */
export interface CaseState {
  verdict: Verdict;
  rules: string[];
  trace_id: string;
  /** Set for a case with several trials (then `verdict` is the most restrictive of them). */
  trials?: TrialState;
}

/** One case that is not exactly as recorded. */
export interface Transition {
  case_id: string;
  kind: TransitionKind;
  /** The recorded result; null for a `new` case. */
  before: CaseState | null;
  /** The current result; null for a `missing` case. */
  after: CaseState | null;
  /** For `changed`: what differs, in this order: rules, decisions, trace, trials. Empty otherwise. */
  changes: ChangeField[];
  /** Whether this transition fails the gate under the options of the run. */
  fails: boolean;
}

/** The policies on one side of a policy change. */
export interface PolicySide {
  policies: BaselinePolicy[];
  bundle_digest: string;
}

/** Set when the bundle digest differs from the baseline's: what the policy change does. */
export interface PolicyChange {
  baseline: PolicySide;
  current: PolicySide;
  /** Every verdict transition (`loosened` and `tightened` cases), sorted by case id. */
  impact: Transition[];
}

/** Options of the comparison, from the command's flags. */
export interface CompareOptions {
  /** `--fail-on`: new cases at or above it fail. */
  failOn: Verdict;
  /** `--fail-on-regression` (default `any`). */
  failOnRegression: RegressionMode;
  /** `--allow-missing`: a case absent from the current traces does not fail. */
  allowMissing: boolean;
  /**
   * `--trials-tolerance`: how far (absolute difference, 0 to 1) the pass rate of a case with
   * trials may move before it fails; 0 when absent.
   */
  trialsTolerance?: number;
}

/** pass^k of both sides for one k. */
export interface PassHatK {
  k: number;
  /** Over the baseline's cases with at least k trials; null when there is none. */
  baseline: number | null;
  /** Over the current run's cases with at least k trials; null when there is none. */
  current: number | null;
}

/** Set when a case on either side has several trials: the tolerance and pass^k. */
export interface TrialsSummary {
  /** `--trials-tolerance`. */
  tolerance: number;
  /** Cases with several trials in the baseline. */
  baseline_cases: number;
  /** Cases with several trials in the current run. */
  current_cases: number;
  /**
   * pass^k (tau-bench) for k = 1 to the largest number of trials of a case on either side, over
   * cases with several trials; a trial passes when its verdict is below `fail_on`.
   */
  pass_hat_k: PassHatK[];
}

/** The current run, as much of it as the comparison needs. */
export interface CurrentRun {
  policies: readonly BaselinePolicy[];
  bundle_digest: string;
  context_digest: string | null;
  cases: readonly CaseRecord[];
}

/** `regress.json`, `proof.regress/v1`: the comparison of a run with a baseline. */
export interface RegressResult {
  schema: "proof.regress/v1";
  passed: boolean;
  fail_on: Verdict;
  fail_on_regression: RegressionMode;
  allow_missing: boolean;
  /** Null when the run used the baseline's policies (same bundle digest). */
  policy_change: PolicyChange | null;
  /** Set when the run's context digest differs from the baseline's: verdicts may move for that reason. */
  context_change: { baseline: string | null; current: string | null } | null;
  summary: {
    /** Cases in the baseline and in the current run, counted once. */
    cases: number;
    unchanged: number;
    loosened: number;
    tightened: number;
    changed: number;
    missing: number;
    new: number;
    /** Transitions that fail the gate. */
    failed: number;
  };
  /** Every case that is not exactly as recorded, sorted by case id. */
  transitions: Transition[];
  /** Only when some case has several trials (a run without trials reads exactly as before). */
  trials?: TrialsSummary;
}

const byCaseId = (a: { case_id: string }, b: { case_id: string }): number =>
  a.case_id < b.case_id ? -1 : a.case_id > b.case_id ? 1 : 0;

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

function state(c: GroupedCase, failOn: Verdict): CaseState {
  return {
    verdict: c.verdict,
    rules: [...c.rules].sort(),
    trace_id: c.trace_id,
    ...(c.trials
      ? { trials: { n: c.trials.n, passed: passes(c.trials.verdicts, failOn), verdicts: c.trials.verdicts } }
      : {}),
  };
}

const sameCounts = (a: VerdictCounts, b: VerdictCounts): boolean => VERDICT_ORDER.every((v) => a[v] === b[v]);

/**
 * How the pass rate of a case with trials moved, in the sense of a verdict's move: 1 when it fell
 * (more restrictive, tightened), -1 when it rose (loosened), 0 within the tolerance. Compared
 * on integers (c1·n0 - c0·n1 over n0·n1), so a rate like 1/3 is not lost to rounding.
 */
function rateMove(before: GroupedCase, after: GroupedCase, failOn: Verdict, tolerance: number): number {
  const b = countsOf(before);
  const a = countsOf(after);
  const diff = passes(a.verdicts, failOn) * b.n - passes(b.verdicts, failOn) * a.n;
  if (Math.abs(diff) / (a.n * b.n) <= tolerance + 1e-9) return 0;
  return -Math.sign(diff);
}

/** Whether a transition of this kind fails the gate; `after` is the new case's verdict. */
function failing(kind: TransitionKind, opts: CompareOptions, after: Verdict | undefined): boolean {
  switch (kind) {
    case "loosened":
      return true;
    case "tightened":
      return opts.failOnRegression === "any";
    case "missing":
      return !opts.allowMissing;
    case "new":
      return after !== undefined && atLeast(after, opts.failOn);
    case "changed":
      return false;
  }
}

/**
 * Compares a run with a baseline, case by case by `case_id`. A trace file that was renamed is
 * therefore a `missing` case and a `new` one (its old key does not linger); a trace re-recorded
 * with new call ids keeps its trace id and decisions, so it is unchanged. Trials of a case are
 * grouped first (trials.ts); a case with trials on either side is compared by its pass rate.
 * @returns the result, with `passed` false exactly when some transition fails.
 * @throws ProofError `trial.*` (exit 6) when the current run's trials are ambiguous.
 */
export function compareWithBaseline(
  baseline: Baseline,
  current: CurrentRun,
  opts: CompareOptions,
): RegressResult {
  const transitions: Transition[] = [];
  const seen = new Set<string>();
  let unchanged = 0;
  const failOn = opts.failOn;
  const grouped = groupTrials(current.cases);
  for (const c of grouped) {
    seen.add(c.case_id);
    const recorded = Object.hasOwn(baseline.cases, c.case_id) ? baseline.cases[c.case_id] : undefined;
    const before: GroupedCase | undefined = recorded && { case_id: c.case_id, ...recorded };
    const after = state(c, failOn);
    if (!before) {
      transitions.push({
        case_id: c.case_id,
        kind: "new",
        before: null,
        after,
        changes: [],
        fails: failing("new", opts, c.verdict),
      });
      continue;
    }
    // A case with trials is judged by its pass rate; its most restrictive verdict alone says little.
    const delta =
      c.trials || before.trials
        ? rateMove(before, c, failOn, opts.trialsTolerance ?? 0)
        : VERDICT_ORDER.indexOf(c.verdict) - VERDICT_ORDER.indexOf(before.verdict);
    const changes: ChangeField[] = [];
    if (delta === 0) {
      if (!sameList(after.rules, [...before.rules].sort())) changes.push("rules");
      if (c.decision_digest !== before.decision_digest) changes.push("decisions");
      if (c.trace_id !== before.trace_id) changes.push("trace");
      const [b, a] = [countsOf(before), countsOf(c)];
      if ((c.trials || before.trials) && (a.n !== b.n || !sameCounts(a.verdicts, b.verdicts)))
        changes.push("trials");
      if (changes.length === 0) {
        unchanged++;
        continue;
      }
    }
    const kind: TransitionKind = delta < 0 ? "loosened" : delta > 0 ? "tightened" : "changed";
    transitions.push({
      case_id: c.case_id,
      kind,
      before: state(before, failOn),
      after,
      changes,
      fails: failing(kind, opts, c.verdict),
    });
  }
  for (const [caseId, before] of Object.entries(baseline.cases)) {
    if (seen.has(caseId)) continue;
    transitions.push({
      case_id: caseId,
      kind: "missing",
      before: state({ case_id: caseId, ...before }, failOn),
      after: null,
      changes: [],
      fails: failing("missing", opts, undefined),
    });
  }
  transitions.sort(byCaseId);

  const count = (kind: TransitionKind) => transitions.filter((t) => t.kind === kind).length;
  const failed = transitions.filter((t) => t.fails).length;
  const policyChange: PolicyChange | null =
    baseline.bundle_digest === current.bundle_digest
      ? null
      : {
          baseline: { policies: baseline.policies, bundle_digest: baseline.bundle_digest },
          current: {
            policies: current.policies.map((p) => ({
              policy_id: p.policy_id,
              policy_digest: p.policy_digest,
            })),
            bundle_digest: current.bundle_digest,
          },
          impact: transitions.filter((t) => t.kind === "loosened" || t.kind === "tightened"),
        };
  return {
    schema: "proof.regress/v1",
    passed: failed === 0,
    fail_on: opts.failOn,
    fail_on_regression: opts.failOnRegression,
    allow_missing: opts.allowMissing,
    policy_change: policyChange,
    context_change:
      baseline.context_digest === current.context_digest
        ? null
        : { baseline: baseline.context_digest, current: current.context_digest },
    summary: {
      cases: seen.size + count("missing"),
      unchanged,
      loosened: count("loosened"),
      tightened: count("tightened"),
      changed: count("changed"),
      missing: count("missing"),
      new: count("new"),
      failed,
    },
    transitions,
    ...trialsSummary(baseline, grouped, opts),
  };
}

/** The `trials` field of a result: empty unless a case on either side has several trials. */
function trialsSummary(
  baseline: Baseline,
  current: readonly GroupedCase[],
  opts: CompareOptions,
): { trials?: TrialsSummary } {
  const side = (cases: readonly GroupedCase[]) =>
    cases.flatMap((c) =>
      c.trials ? [{ n: c.trials.n, passed: passes(c.trials.verdicts, opts.failOn) }] : [],
    );
  const before = side(Object.entries(baseline.cases).map(([case_id, c]) => ({ case_id, ...c })));
  const after = side(current);
  if (before.length === 0 && after.length === 0) return {};
  const most = Math.max(...before.map((c) => c.n), ...after.map((c) => c.n));
  return {
    trials: {
      tolerance: opts.trialsTolerance ?? 0,
      baseline_cases: before.length,
      current_cases: after.length,
      pass_hat_k: Array.from({ length: most }, (_, i) => ({
        k: i + 1,
        baseline: passHatK(before, i + 1),
        current: passHatK(after, i + 1),
      })),
    },
  };
}
