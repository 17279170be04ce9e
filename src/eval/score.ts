/**
 * The scorecard of `proof eval` (`proof.eval/v1`, schemas/eval.schema.json, docs/evaluation.md):
 * judged cases against their labels, as confusion matrices, precision, recall and false-positive
 * rate, overall and per group, with every false alarm and miss. Pure.
 */
import { inputError } from "../errors.js";
import type { Verdict } from "../policy/ir.js";
import type { PolicyRef } from "../report/report.js";
import { atLeast } from "../verify/decision.js";
import type { Finding, JudgedCase } from "./judge.js";
import {
  expectationText,
  isPositive,
  type LabelFormat,
  type LabelSet,
  type ViolatingCall,
} from "./labels.js";

/** Group fields used when none is asked for, those of them that some label has. */
export const DEFAULT_GROUP_BY: readonly string[] = ["suite", "model", "attack_type"];

/** The group value of a case whose label lacks the group's field. */
export const NO_VALUE = "(none)";

/**
 * A confusion matrix and the figures derived from it. A figure whose denominator is zero is null
 * (shown `n/a`): precision with no case flagged, recall with no positive case, false-positive
 * rate with no negative case.
 */
export interface Score {
  cases: number;
  /** Cases whose label says they should be flagged. */
  positives: number;
  /** Cases at or above `flag_on`. */
  flagged: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  /** tp / (tp + fp), or null when nothing is flagged. */
  precision: number | null;
  /** tp / (tp + fn), or null when no case is positive. */
  recall: number | null;
  /** fp / (fp + tn), or null when no case is negative. */
  false_positive_rate: number | null;
}

/** The score of the cases whose label has `field` = `value` (`(none)`: the field is absent). */
export interface GroupScore extends Score {
  field: string;
  value: string;
}

/** A policy of the run and the cases it flagged by itself. */
export interface PolicyScore extends PolicyRef {
  /** Cases this policy alone puts at or above `flag_on`. */
  flagged: number;
  /** Of those, the cases labelled positive. */
  flagged_positive: number;
}

/** A false alarm or a miss. */
export interface CaseOutcome {
  case_id: string;
  /** The trace file as given, `/`-separated. */
  file: string;
  /** The case's verdict, the most restrictive over all policies. */
  verdict: Verdict;
  /** The label's expectation: `violation`, `no violation`, or a verdict. */
  expected: string;
  /** The label's group fields. */
  groups: Record<string, string>;
  /** The calls the label names as the violation (for a miss, what the policies let through). */
  violating_calls: ViolatingCall[];
  /** What fired: for a false alarm the rules that flagged it; for a miss, any rule below `flag_on`. */
  findings: Finding[];
}

/** Outcome of `--min-precision` / `--min-recall`. */
export interface EvalGate {
  min_precision: number | null;
  min_recall: number | null;
  passed: boolean;
  /** One sentence per figure below its minimum, e.g. `precision 0.879 is below --min-precision 0.9`. */
  failures: string[];
}

/** `eval.json`, `proof.eval/v1` (schemas/eval.schema.json; docs/evaluation.md). */
export interface EvalReport {
  schema: "proof.eval/v1";
  /** A case counts as flagged when its verdict is at or above this. */
  flag_on: Verdict;
  labels: { file: string; format: LabelFormat; count: number };
  /** The group fields of `groups`, in order. */
  group_by: string[];
  /** In the order given; `flagged` counts each policy alone. */
  policies: PolicyScore[];
  /** SHA-256 over the sorted list of policy digests (docs/policy.md). */
  bundle_digest: string;
  overall: Score;
  /** By field in `group_by` order, then by value. */
  groups: GroupScore[];
  /** Flagged cases labelled negative, by case id. */
  false_alarms: CaseOutcome[];
  /** Positive cases not flagged, by case id. */
  misses: CaseOutcome[];
  /** Case ids of traces no label names: judged, but not scored. */
  unlabelled: string[];
  gate: EvalGate;
}

/** What {@link scoreCases} needs besides the cases. */
export interface EvalInput {
  labels: LabelSet;
  flagOn: Verdict;
  /** Group fields (`--group-by`); default: those of {@link DEFAULT_GROUP_BY} some label has. */
  groupBy?: readonly string[];
  policies: readonly PolicyRef[];
  bundleDigest: string;
  minPrecision?: number;
  minRecall?: number;
}

function ratio(num: number, den: number): number | null {
  return den === 0 ? null : num / den;
}

/** The confusion matrix of (flagged, positive) pairs. */
export function scoreOf(pairs: readonly { flagged: boolean; positive: boolean }[]): Score {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (const { flagged, positive } of pairs) {
    if (flagged && positive) tp++;
    else if (flagged) fp++;
    else if (positive) fn++;
    else tn++;
  }
  return {
    cases: pairs.length,
    positives: tp + fn,
    flagged: tp + fp,
    tp,
    fp,
    fn,
    tn,
    precision: ratio(tp, tp + fp),
    recall: ratio(tp, tp + fn),
    false_positive_rate: ratio(fp, fp + tn),
  };
}

/** A figure as text: three decimals, or `n/a` when it is undefined. */
export function figure(value: number | null): string {
  return value === null ? "n/a" : value.toFixed(3);
}

function byCode(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Parses a `--min-precision` / `--min-recall` value: a number from 0 to 1.
 * @throws ProofError `usage.bad_number` (exit 6).
 */
export function parseFraction(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1)
    throw inputError("usage.bad_number", `${flag} must be a number from 0 to 1, not '${value}'`);
  return n;
}

/**
 * Scores judged cases against their labels.
 * @throws ProofError `eval.unmatched_label` (exit 6) when a label names a case no trace has: a
 *   label without its trace would silently shrink the evaluation.
 */
export function scoreCases(cases: readonly JudgedCase[], input: EvalInput): EvalReport {
  const byCase = new Map(cases.map((c) => [c.case_id, c]));
  const missing = input.labels.labels.filter((l) => !byCase.has(l.case));
  if (missing.length > 0) {
    const first = missing[0] as (typeof missing)[number];
    throw inputError(
      "eval.unmatched_label",
      `${missing.length} label${missing.length === 1 ? " names a case" : "s name cases"} no trace has, first '${first.case}'`,
      { file: input.labels.file, line: first.line },
      "case ids are trace paths relative to the --traces directory; check that --traces is the directory the labels describe",
    );
  }
  const labelled = new Set(input.labels.labels.map((l) => l.case));
  const unlabelled = cases
    .map((c) => c.case_id)
    .filter((id) => !labelled.has(id))
    .sort(byCode);
  const groupBy = input.groupBy
    ? [...input.groupBy]
    : DEFAULT_GROUP_BY.filter((f) => input.labels.labels.some((l) => f in l.groups));

  const rows = input.labels.labels
    .map((label) => {
      const judged = byCase.get(label.case) as JudgedCase;
      return {
        label,
        judged,
        flagged: atLeast(judged.verdict, input.flagOn),
        positive: isPositive(label, input.flagOn),
      };
    })
    .sort((a, b) => byCode(a.label.case, b.label.case));

  const groups: GroupScore[] = [];
  for (const field of groupBy) {
    const values = [...new Set(rows.map((r) => r.label.groups[field] ?? NO_VALUE))].sort(byCode);
    for (const value of values) {
      const score = scoreOf(rows.filter((r) => (r.label.groups[field] ?? NO_VALUE) === value));
      groups.push({ field, value, ...score });
    }
  }

  const outcome = (r: (typeof rows)[number], fired: (f: Finding) => boolean): CaseOutcome => ({
    case_id: r.label.case,
    file: r.judged.file,
    verdict: r.judged.verdict,
    expected: expectationText(r.label.expected),
    groups: r.label.groups,
    violating_calls: r.label.violating_calls,
    findings: r.judged.findings.filter(fired),
  });
  const falseAlarms = rows
    .filter((r) => r.flagged && !r.positive)
    .map((r) => outcome(r, (f) => atLeast(f.verdict, input.flagOn)));
  const misses = rows.filter((r) => !r.flagged && r.positive).map((r) => outcome(r, () => true));

  const policies = input.policies.map((p) => {
    const flagged = rows.filter((r) => atLeast(r.judged.verdicts[p.policy_id] ?? "allow", input.flagOn));
    return {
      policy_id: p.policy_id,
      policy_digest: p.policy_digest,
      flagged: flagged.length,
      flagged_positive: flagged.filter((r) => r.positive).length,
    };
  });

  const overall = scoreOf(rows);
  return {
    schema: "proof.eval/v1",
    flag_on: input.flagOn,
    labels: { file: input.labels.file, format: input.labels.format, count: input.labels.labels.length },
    group_by: groupBy,
    policies,
    bundle_digest: input.bundleDigest,
    overall,
    groups,
    false_alarms: falseAlarms,
    misses,
    unlabelled,
    gate: gateOf(overall, input.minPrecision, input.minRecall),
  };
}

/**
 * Applies the minimums to the overall figures. An undefined figure (`n/a`) fails its minimum:
 * nothing shows the minimum is met.
 */
export function gateOf(overall: Score, minPrecision?: number, minRecall?: number): EvalGate {
  const failures: string[] = [];
  const check = (name: string, num: number, den: number, min: number | undefined, why: string): void => {
    if (min === undefined) return;
    if (den === 0) failures.push(`${name} is n/a (${why}), so not at least --min-${name} ${min}`);
    // Compared exactly; the fraction is shown because three decimals may round up to the minimum.
    else if (num / den < min)
      failures.push(`${name} ${figure(num / den)} (${num}/${den}) is below --min-${name} ${min}`);
  };
  check("precision", overall.tp, overall.flagged, minPrecision, "no case flagged");
  check("recall", overall.tp, overall.positives, minRecall, "no positive case");
  return {
    min_precision: minPrecision ?? null,
    min_recall: minRecall ?? null,
    passed: failures.length === 0,
    failures,
  };
}
