/**
 * The baseline of `proof regress`, `proof.baseline/v1`, or `proof.baseline/v2` when some case has
 * several trials (docs/baselines.md; schemas/baseline.schema.json is generated from these types):
 * the last known-good result of every case, keyed by `case_id`, and the policies it was judged by.
 */
import { inputError } from "../errors.js";
import { validateBaseline } from "../generated/validate-baseline.js";
import type { Verdict } from "../policy/ir.js";
import { parseJson } from "../trace/json.js";
import { type BaselineTrials, groupTrials, type TrialOf } from "./trials.js";

/** A policy a baseline was made with. */
export interface BaselinePolicy {
  policy_id: string;
  /** @pattern ^sha256:[0-9a-f]{64}$ */
  policy_digest: string;
}

/** The recorded result of one case. */
export interface BaselineCase {
  /**
   * Digest of the trace's behaviour: unchanged by re-recording with new call ids or a new file name.
   * @pattern ^sha256:[0-9a-f]{64}$
   */
  trace_id: string;
  verdict: Verdict;
  /** Rule ids that matched any call, sorted. */
  rules: string[];
  /**
   * Digest of every call's `{seq, tool, verdict, rules}`.
   * @pattern ^sha256:[0-9a-f]{64}$
   */
  decision_digest: string;
  /**
   * Set for a case recorded by several trials (then `verdict` is the most restrictive, `rules`
   * their union, `trace_id` and `decision_digest` digests of the trials' sorted ones). Only in
   * `proof.baseline/v2`.
   */
  trials?: BaselineTrials;
}

/**
 * `baseline.json`: `proof.baseline/v1`, or `proof.baseline/v2` when some case has `trials` (so a
 * baseline without trials stays v1, byte for byte). Byte-identical for the same policies and traces.
 */
export interface Baseline {
  schema: "proof.baseline/v1" | "proof.baseline/v2";
  /** Policies the baseline was judged by, as the report lists them. */
  policies: BaselinePolicy[];
  /**
   * SHA-256 over the sorted list of policy digests.
   * @pattern ^sha256:[0-9a-f]{64}$
   */
  bundle_digest: string;
  /** Digest of the `--context` the baseline was made with, or null without one. */
  context_digest: string | null;
  /** Every case, keyed by `case_id` (written in code-unit order of the keys). */
  cases: Record<string, BaselineCase>;
}

/** One judged case as `runVerify` reports it (the fields a baseline keeps, plus its id). */
export interface CaseRecord extends Omit<BaselineCase, "trials"> {
  case_id: string;
  /** The case this trace is a trial of, when it is one (see trials.ts). */
  trial?: TrialOf;
}

/**
 * Makes a baseline from a run: the policies and digests it was judged by and its cases, trials of
 * a case grouped into one. A case id that occurs twice is a bug of the caller (verify refuses
 * duplicate case ids).
 * @throws Error on a duplicate case id; ProofError `trial.*` from {@link groupTrials}.
 */
export function makeBaseline(
  run: { policies: readonly BaselinePolicy[]; bundle_digest: string; context_digest: string | null },
  cases: readonly CaseRecord[],
): Baseline {
  const ids = new Set<string>();
  for (const c of cases) {
    if (ids.has(c.case_id)) throw new Error(`duplicate case id '${c.case_id}'`);
    ids.add(c.case_id);
  }
  const out: Record<string, BaselineCase> = {};
  let trials = false;
  for (const c of groupTrials(cases)) {
    out[c.case_id] = {
      trace_id: c.trace_id,
      verdict: c.verdict,
      rules: [...c.rules].sort(),
      decision_digest: c.decision_digest,
      ...(c.trials ? { trials: c.trials } : {}),
    };
    if (c.trials) trials = true;
  }
  return {
    schema: trials ? "proof.baseline/v2" : "proof.baseline/v1",
    policies: run.policies.map((p) => ({ policy_id: p.policy_id, policy_digest: p.policy_digest })),
    bundle_digest: run.bundle_digest,
    context_digest: run.context_digest,
    cases: out,
  };
}

/**
 * Reads a baseline file's text (`proof.baseline/v1` or `v2`, checked with the precompiled validator
 * of schemas/baseline.schema.json, then the trial counts: they sum to `n`, one case id per trial,
 * and only in v2).
 * @throws ProofError `json.*` on malformed JSON, `baseline.invalid` (exit 6) naming the file and
 *   the first schema error or the first case whose trials do not add up.
 */
export function loadBaseline(text: string, file: string): Baseline {
  const value = parseJson(text, file);
  if (!validateBaseline(value)) {
    const e = validateBaseline.errors?.[0];
    const extra =
      e?.keyword === "additionalProperties"
        ? ` '${String((e.params as { additionalProperty?: unknown }).additionalProperty)}'`
        : "";
    throw inputError(
      "baseline.invalid",
      `not a proof.baseline/v1 or v2 file: ${e?.instancePath || "(document)"} ${e?.message ?? ""}${extra}`.trim(),
      { file },
      "make one with proof regress init",
    );
  }
  const baseline = value as Baseline;
  for (const [caseId, c] of Object.entries(baseline.cases)) {
    if (!c.trials) continue;
    const t = c.trials;
    const sum = t.verdicts.allow + t.verdicts.warn + t.verdicts.require_approval + t.verdicts.block;
    const problem =
      baseline.schema === "proof.baseline/v1"
        ? "has trials, which need proof.baseline/v2"
        : sum !== t.n
          ? `counts ${sum} trials by verdict, not n = ${t.n}`
          : t.cases.length !== t.n
            ? `lists ${t.cases.length} trial case ids, not n = ${t.n}`
            : undefined;
    if (problem)
      throw inputError(
        "baseline.invalid",
        `not a valid baseline: case '${caseId}' ${problem}`,
        { file },
        "make one with proof regress init",
      );
  }
  return baseline;
}
