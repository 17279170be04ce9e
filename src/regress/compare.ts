/**
 * The comparison of `proof regress run` (docs/baselines.md): the current result of every case against
 * its baseline, as transitions, and which of them fail the gate.
 */
import type { Verdict } from "../policy/ir.js";
import { atLeast, VERDICT_ORDER } from "../verify/decision.js";
import type { Baseline, BaselineCase, BaselinePolicy, CaseRecord } from "./baseline.js";

/** Which verdict transitions fail the gate: only less restrictive ones, or any. */
export type RegressionMode = "loosened" | "any";

/**
 * How a case differs from its baseline:
 * - `loosened`: its verdict is less restrictive than recorded (a regression);
 * - `tightened`: more restrictive (a regression unless `--fail-on-regression loosened`);
 * - `changed`: same verdict, but other rules, other decisions or another trace (never fails);
 * - `missing`: recorded, but no current trace has its case id (fails unless `--allow-missing`);
 * - `new`: not recorded; judged by `--fail-on` like `verify`.
 */
export type TransitionKind = "loosened" | "tightened" | "changed" | "missing" | "new";

/** What differs in a `changed` case. */
export type ChangeField = "rules" | "decisions" | "trace";

/** A case's result on one side of a transition. */
export interface CaseState {
  verdict: Verdict;
  rules: string[];
  trace_id: string;
}

/** One case that is not exactly as recorded. */
export interface Transition {
  case_id: string;
  kind: TransitionKind;
  /** The recorded result; null for a `new` case. */
  before: CaseState | null;
  /** The current result; null for a `missing` case. */
  after: CaseState | null;
  /** For `changed`: what differs, in this order: rules, decisions, trace. Empty otherwise. */
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
}

const byCaseId = (a: { case_id: string }, b: { case_id: string }): number =>
  a.case_id < b.case_id ? -1 : a.case_id > b.case_id ? 1 : 0;

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

function state(c: BaselineCase): CaseState {
  return { verdict: c.verdict, rules: [...c.rules].sort(), trace_id: c.trace_id };
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
 * with new call ids keeps its trace id and decisions, so it is unchanged.
 * @returns the result, with `passed` false exactly when some transition fails.
 */
export function compareWithBaseline(
  baseline: Baseline,
  current: CurrentRun,
  opts: CompareOptions,
): RegressResult {
  const transitions: Transition[] = [];
  const seen = new Set<string>();
  let unchanged = 0;
  for (const c of current.cases) {
    seen.add(c.case_id);
    const before = Object.hasOwn(baseline.cases, c.case_id) ? baseline.cases[c.case_id] : undefined;
    const after = state(c);
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
    const delta = VERDICT_ORDER.indexOf(c.verdict) - VERDICT_ORDER.indexOf(before.verdict);
    const changes: ChangeField[] = [];
    if (delta === 0) {
      if (!sameList(after.rules, [...before.rules].sort())) changes.push("rules");
      if (c.decision_digest !== before.decision_digest) changes.push("decisions");
      if (c.trace_id !== before.trace_id) changes.push("trace");
      if (changes.length === 0) {
        unchanged++;
        continue;
      }
    }
    const kind: TransitionKind = delta < 0 ? "loosened" : delta > 0 ? "tightened" : "changed";
    transitions.push({
      case_id: c.case_id,
      kind,
      before: state(before),
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
      before: state(before),
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
  };
}
