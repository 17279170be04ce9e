/**
 * Trials (docs/baselines.md, "Trials"): traces that record the same case several times are judged
 * together. A trace is a trial when
 * - its header meta has an integer `trial` (at least 0) and a `task_id` (a string or an integer),
 *   as tau-bench records them: trial `trial` of the case `<case id without its #N>#task-<task_id>`;
 * - or its case id ends with `@N` (N a decimal integer without leading zeros, at most 6 digits):
 *   trial N of the case named by what precedes the `@`.
 * A case with a single trial is an ordinary case under its own case id, exactly as before trials.
 */

import { inputError } from "../errors.js";
import { digestOf } from "../io/canonical.js";
import type { JsonValue, Verdict } from "../policy/ir.js";
import { atLeast, VERDICT_ORDER } from "../verify/decision.js";

/** Which case a trace is a trial of, and its trial number. */
export interface TrialOf {
  /** The case the trials are grouped under (the baseline's key). */
  case_id: string;
  /** The trial's number in its source (`trial`, or the `@N` suffix). */
  trial: number;
}

/** Trials at each verdict; they sum to the number of trials. */
export interface VerdictCounts {
  allow: number;
  warn: number;
  require_approval: number;
  block: number;
}

/** The trials of one case, judged together. */
export interface BaselineTrials {
  /**
   * Number of trials (at least 2: one trial is an ordinary case).
   * @minimum 2
   */
  n: number;
  /** Trials at each verdict. */
  verdicts: VerdictCounts;
  /** Case ids of the trials, sorted. */
  cases: string[];
}

/** One judged trace, with the trial it is, if any. */
export interface TrialRecord {
  case_id: string;
  trace_id: string;
  verdict: Verdict;
  rules: string[];
  decision_digest: string;
  trial?: TrialOf;
}

/** A case after grouping: a single trace, or several trials (then `trials` is set). */
export interface GroupedCase {
  case_id: string;
  /** One trace's digest, or for trials the digest of their sorted trace ids. */
  trace_id: string;
  /** The verdict, or for trials the most restrictive one. */
  verdict: Verdict;
  /** Rules that matched, sorted (for trials: in any trial). */
  rules: string[];
  /** One trace's decision digest, or for trials the digest of their sorted decision digests. */
  decision_digest: string;
  trials?: BaselineTrials;
}

/** The largest trial number of the `@N` suffix: six digits. */
const SUFFIX = /^(.+)@(0|[1-9][0-9]{0,5})$/;
/** The `#N` the importers append for the N-th trace of a file. */
const INDEX = /#[0-9]+$/;

/**
 * Which case a trace is a trial of (see the module comment), or undefined when it is not a trial.
 * @param caseId the trace's case id.
 * @param meta the trace header's meta.
 */
export function trialOf(caseId: string, meta: Readonly<Record<string, JsonValue>>): TrialOf | undefined {
  const trial = meta.trial;
  const task = meta.task_id;
  if (
    typeof trial === "number" &&
    Number.isSafeInteger(trial) &&
    trial >= 0 &&
    (typeof task === "string" || (typeof task === "number" && Number.isSafeInteger(task)))
  ) {
    return { case_id: `${caseId.replace(INDEX, "")}#task-${task}`, trial };
  }
  const m = SUFFIX.exec(caseId);
  return m ? { case_id: m[1] as string, trial: Number(m[2]) } : undefined;
}

/** Counts of zero at every verdict. */
export function noVerdicts(): VerdictCounts {
  return { allow: 0, warn: 0, require_approval: 0, block: 0 };
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Groups judged traces into cases: trials of the same case with at least two members become one
 * case with `trials`; a lone trial stays an ordinary case under its own case id. Sorted by case id.
 * @throws ProofError `trial.duplicate` (exit 6) when two traces are the same trial of a case, and
 *   `trial.case_clash` when a case of trials has the case id of another case.
 */
export function groupTrials(records: readonly TrialRecord[]): GroupedCase[] {
  const groups = new Map<string, TrialRecord[]>();
  for (const r of records) {
    if (!r.trial) continue;
    const g = groups.get(r.trial.case_id) ?? [];
    g.push(r);
    groups.set(r.trial.case_id, g);
  }
  const out: GroupedCase[] = [];
  const grouped = new Set<string>();
  for (const [caseId, members] of groups) {
    if (members.length < 2) continue;
    members.sort((a, b) => (a.trial?.trial ?? 0) - (b.trial?.trial ?? 0) || byId(a.case_id, b.case_id));
    for (let i = 1; i < members.length; i++) {
      const [a, b] = [members[i - 1] as TrialRecord, members[i] as TrialRecord];
      if (a.trial?.trial === b.trial?.trial)
        throw inputError(
          "trial.duplicate",
          `'${a.case_id}' and '${b.case_id}' are both trial ${a.trial?.trial} of case '${caseId}'`,
          undefined,
          "each trial of a case needs its own trial number",
        );
    }
    const verdicts = noVerdicts();
    for (const m of members) verdicts[m.verdict]++;
    const worst = [...VERDICT_ORDER].reverse().find((v) => verdicts[v] > 0) as Verdict;
    out.push({
      case_id: caseId,
      trace_id: digestOf(members.map((m) => m.trace_id).sort(byId)),
      verdict: worst,
      rules: [...new Set(members.flatMap((m) => m.rules))].sort(byId),
      decision_digest: digestOf(members.map((m) => m.decision_digest).sort(byId)),
      trials: { n: members.length, verdicts, cases: members.map((m) => m.case_id).sort(byId) },
    });
    for (const m of members) grouped.add(m.case_id);
  }
  const ids = new Set(out.map((c) => c.case_id));
  for (const r of records) {
    if (grouped.has(r.case_id)) continue;
    if (ids.has(r.case_id))
      throw inputError(
        "trial.case_clash",
        `case id '${r.case_id}' is also the case of the trials ${groups
          .get(r.case_id)
          ?.map((m) => `'${m.case_id}'`)
          .join(", ")}`,
        undefined,
        "rename the trace or its trials so each case id names one case",
      );
    out.push({
      case_id: r.case_id,
      trace_id: r.trace_id,
      verdict: r.verdict,
      rules: r.rules,
      decision_digest: r.decision_digest,
    });
  }
  return out.sort((a, b) => byId(a.case_id, b.case_id));
}

/** A case's trials as counts: its `trials`, or one trial at its verdict. */
export function countsOf(c: { verdict: Verdict; trials?: BaselineTrials }): {
  n: number;
  verdicts: VerdictCounts;
} {
  if (c.trials) return { n: c.trials.n, verdicts: c.trials.verdicts };
  const verdicts = noVerdicts();
  verdicts[c.verdict] = 1;
  return { n: 1, verdicts };
}

/** Trials that pass: whose verdict is below `failOn`, as `proof verify --fail-on` judges a trace. */
export function passes(counts: VerdictCounts, failOn: Verdict): number {
  return VERDICT_ORDER.filter((v) => !atLeast(v, failOn)).reduce((sum, v) => sum + counts[v], 0);
}

/** The binomial coefficient C(n, k), exact for the trial counts of a baseline (n up to 1000s). */
function choose(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/**
 * pass^k as tau-bench defines it (Yao et al., "tau-bench", 2024, and `display_metrics` in
 * sierra-research/tau-bench `run.py`): the probability that k i.i.d. trials of a case all pass,
 * estimated per case as C(c, k) / C(n, k) with c passing trials of n, averaged over cases.
 * @param cases passing and total trials of each case; cases with fewer than k trials are left out.
 * @returns the estimate in [0, 1], or null when no case has k trials.
 */
export function passHatK(cases: readonly { passed: number; n: number }[], k: number): number | null {
  const eligible = cases.filter((c) => c.n >= k);
  if (eligible.length === 0) return null;
  const sum = eligible.reduce((s, c) => s + choose(c.passed, k) / choose(c.n, k), 0);
  return sum / eligible.length;
}
