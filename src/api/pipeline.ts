/**
 * The judgement at the heart of `proof verify`, shared by every way of running it: over files
 * (src/api/verify.ts, the out dir) and over traces held in memory (src/api/memory.ts, `proof
 * serve`). One code path for both is what makes a served report byte-identical to `report.json`.
 */
import { inputError } from "../errors.js";
import { digestOf } from "../io/canonical.js";
import { activationFromPlan } from "../plan/activation.js";
import { checkPlanSelection } from "../plan/load-plan.js";
import type { Plan } from "../plan/plan.js";
import type { Verdict } from "../policy/ir.js";
import type { PolicySet } from "../policy/set.js";
import { type TrialOf, trialOf } from "../regress/trials.js";
import { type Report, ReportBuilder, type SpillPolicy } from "../report/report.js";
import type { FormatName, Trace } from "../trace/model.js";
import { CoverageCollector, type CoverageReport } from "../verify/coverage.js";
import { type TraceResult, VERDICT_ORDER } from "../verify/decision.js";
import { type Activation, activate, Engine } from "../verify/engine.js";
import { staleLines, type WaiverMatcher } from "../waivers/waivers.js";

/**
 * Parses a verdict given by name (`--fail-on`, a request's `fail_on`).
 * @param what the flag or field named in the message
 * @throws ProofError `usage.verdict` (exit 6).
 */
export function parseVerdict(value: string, what: string): Verdict {
  if (!(VERDICT_ORDER as readonly string[]).includes(value)) {
    throw inputError("usage.verdict", `${what} must be one of ${VERDICT_ORDER.join(", ")}, not '${value}'`);
  }
  return value as Verdict;
}

/** The form of a decision digest ({@link decisionDigest}): `sha256:` and 64 lowercase hex digits. */
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const DIGEST_PREFIX = "sha256:";
const DIGEST_BYTES = 32;

/** One judged case, as a baseline records it. */
export interface CaseResult {
  case_id: string;
  trace_id: string;
  /** The trace file as given, relative, `/`-separated. */
  file: string;
  verdict: Verdict;
  rules: string[];
  /** Digest of every call's `{seq, tool, verdict, rules}`: changes when any decision does. */
  decision_digest: string;
  /** The case this trace is a trial of (src/regress/trials.ts), when it is one. */
  trial?: TrialOf;
}

/**
 * Checks that a plan was made for this policy and this context (the empty one without
 * `--context`), and that its rules are those the planner selects for them: a plan for another
 * policy or context, or an edited one, would silently evaluate the wrong rules.
 * @param file where the plan came from, for messages (`plan` for one made in the same run)
 * @param hasContext whether a context was given (for the message only)
 * @throws ProofError `plan.policy_mismatch` / `plan.context_mismatch` (exit 6) naming both
 *   digests, `plan.mismatch` (exit 6) naming the first rule that differs.
 */
export function checkPlan(
  plan: Plan,
  file: string,
  policies: PolicySet,
  context: unknown,
  hasContext: boolean,
): Activation {
  const [ir, ...more] = policies.irs;
  const compiled = policies.compiled[0];
  if (!ir || !compiled || more.length > 0) {
    throw inputError("plan.policy_mismatch", "a plan is made for one policy; --policy names several", {
      file,
    });
  }
  if (plan.policy_digest !== ir.policy_digest) {
    throw inputError(
      "plan.policy_mismatch",
      `plan is for policy ${plan.policy_id} ${plan.policy_digest}, but --policy is ${ir.policy_id} ${ir.policy_digest}`,
      { file },
      "make a new plan with proof adapt",
    );
  }
  const contextDigest = digestOf(context);
  if (plan.context_digest !== contextDigest) {
    throw inputError(
      "plan.context_mismatch",
      hasContext
        ? `plan is for context ${plan.context_digest}, but --context digests to ${contextDigest}`
        : `plan is for context ${plan.context_digest}, but no --context was given (the empty context digests to ${contextDigest})`,
      { file },
      hasContext ? "make a new plan with proof adapt" : "give the --context the plan was made for",
    );
  }
  checkPlanSelection(plan, file, compiled, context, contextDigest);
  return activationFromPlan(plan);
}

/**
 * A judged trace with what the report needs of the trace itself: the file as reports show it
 * (relative, `/`-separated), its format, its warnings and the case it is a trial of.
 */
export interface JudgedTrace {
  result: TraceResult;
  file: string;
  format: FormatName;
  warnings: readonly string[];
  trial?: TrialOf;
  /** {@link decisionDigest} of the result, when the thread that judged it computed it. */
  decisionDigest?: string;
}

/** Digest of every call's `{seq, tool, verdict, rules}` of a result (CaseResult.decision_digest). */
export function decisionDigest(result: TraceResult): string {
  return digestOf(
    result.decisions.map((d) => ({ seq: d.seq, tool: d.tool, verdict: d.verdict, rules: d.rules })),
  );
}

/** What a judgement needs besides the policies. */
export interface JudgementOptions {
  /** The context (`{}` when none was given). */
  context: Record<string, unknown>;
  /** Whether a context was given: the report's `context_digest` is null otherwise. */
  hasContext: boolean;
  /** Evaluate only this plan's rules, in its order; `planFile` names it in messages. */
  plan?: Plan;
  planFile?: string;
  failOn: Verdict;
  /** Collect policy coverage; below `min` percent of outcomes the coverage fails. */
  coverage?: { min: number | null };
  /**
   * Where the report's entries go once they pass a size in memory (src/io/trace-spill.ts): a run
   * over files spills them, so that its memory does not grow with the corpus.
   */
  spill?: SpillPolicy;
}

/**
 * One run of the gate over traces that arrive one at a time: {@link verify} judges a trace,
 * {@link record} adds its result to the report (after a waiver matcher or an exporter has seen
 * it), {@link finish} builds the report. Pure: reading traces and writing artifacts is the
 * caller's.
 */
export class Judgement {
  readonly activation: Activation;
  /**
   * The decision digest of every recorded case, in record order, as 32 raw bytes each: a run over
   * a large corpus holds this instead of a {@link CaseResult} per trace (see {@link cases}).
   */
  private digests = new Uint8Array(DIGEST_BYTES * 1024);
  /** Digests not of the `sha256:` + hex form (none from this code), by record index. */
  private readonly otherDigests = new Map<number, string>();
  /** The trial of each recorded case that is one, by record index. */
  private readonly trials = new Map<number, TrialOf>();
  private recorded = 0;
  private finished = false;
  private sorted: CaseResult[] | undefined;
  private readonly engine: Engine;
  private readonly builder: ReportBuilder;
  private readonly collector: CoverageCollector | null;
  private readonly coverageMin: number | null;

  /** @throws ProofError (exit 6) when the plan does not fit the policies and context. */
  constructor(policies: PolicySet, options: JudgementOptions) {
    const { context, plan } = options;
    this.activation = plan
      ? checkPlan(plan, options.planFile ?? "plan", policies, context, options.hasContext)
      : activate(policies.compiled, context);
    // Null unless asked for: the engine then records nothing and pays nothing for coverage.
    this.collector = options.coverage ? new CoverageCollector() : null;
    this.coverageMin = options.coverage?.min ?? null;
    this.engine = new Engine(policies.compiled, this.activation, context, this.collector);
    this.builder = new ReportBuilder(
      policies.irs.map((ir) => ({ policy_id: ir.policy_id, policy_digest: ir.policy_digest })),
      policies.bundleDigest,
      options.hasContext ? digestOf(context) : null,
      options.failOn,
      options.spill,
    );
    for (const w of this.activation.warnings) this.builder.warn(null, w);
  }

  /** This judgement's coverage document so far, or null without `coverage`. */
  coverage(): CoverageReport | null {
    return this.collector ? this.collector.summary(this.coverageMin) : null;
  }

  /** Judges one trace; nothing is recorded until {@link record}. */
  verify(trace: Trace): TraceResult {
    return this.engine.verify(trace);
  }

  /**
   * Adds a judged trace to the report and the cases.
   * @param file the trace file as shown in reports (relative, `/`-separated)
   * @throws ProofError `trace.duplicate_case` (exit 6) when another file gave the same case id.
   */
  record(result: TraceResult, trace: Trace, file: string): void {
    const trial = trialOf(result.case_id, trace.header.meta);
    this.recordCase({
      result,
      file,
      format: trace.header.source.format,
      warnings: trace.warnings,
      ...(trial ? { trial } : {}),
    });
  }

  /**
   * {@link record} of a trace judged elsewhere (a worker thread, a shard of the run): what the
   * report needs of the trace travels with its result.
   * @throws ProofError `trace.duplicate_case` (exit 6) when another file gave the same case id.
   */
  recordCase(judged: JudgedTrace): void {
    const { result, file, trial } = judged;
    const clash = this.builder.add(result, file, judged.format);
    if (clash !== undefined) {
      throw inputError(
        "trace.duplicate_case",
        `case id '${result.case_id}' is used by ${clash} and ${file}`,
        { file },
        "case ids are paths relative to the traces root; pass the directory instead of single files",
      );
    }
    for (const w of judged.warnings) this.builder.warn(result.case_id, w);
    const i = this.recorded++;
    const digest = judged.decisionDigest ?? decisionDigest(result);
    if (DIGEST.test(digest)) {
      if (this.digests.length < (i + 1) * DIGEST_BYTES) {
        const grown = new Uint8Array(this.digests.length * 2);
        grown.set(this.digests);
        this.digests = grown;
      }
      this.digests.set(Buffer.from(digest.slice(DIGEST_PREFIX.length), "hex"), i * DIGEST_BYTES);
    } else this.otherDigests.set(i, digest);
    if (trial) this.trials.set(i, trial);
  }

  /**
   * Every recorded case: in record order until {@link finish} ran, sorted by case id after.
   * Made from the report's entries when asked for, so that a run that never asks (`proof
   * verify` without a regression gate) holds no object per case.
   */
  get cases(): CaseResult[] {
    if (this.sorted) return this.sorted;
    const cases = Array.from(this.builder.entries(), (t, i): CaseResult => {
      const trial = this.trials.get(i);
      const bytes = this.digests.subarray(i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES);
      return {
        case_id: t.case_id,
        trace_id: t.trace_id,
        file: t.file,
        verdict: t.verdict,
        rules: t.rules,
        decision_digest: this.otherDigests.get(i) ?? `${DIGEST_PREFIX}${Buffer.from(bytes).toString("hex")}`,
        ...(trial ? { trial } : {}),
      };
    });
    if (!this.finished) return cases;
    this.sorted = cases.sort((a, b) => (a.case_id < b.case_id ? -1 : a.case_id > b.case_id ? 1 : 0));
    return this.sorted;
  }

  /**
   * The finished report: waivers applied when a matcher judged the results, coverage added when
   * collected; the cases sorted by case id.
   * @param where the traces as given, for the message when there were none
   * @param coverage the coverage of traces judged elsewhere (src/api/judged.ts mergeCoverage),
   *   instead of this judgement's own
   * @throws ProofError `trace.none` (exit 6) when no trace was recorded.
   */
  finish(where: string, matcher?: WaiverMatcher, coverage?: CoverageReport): Report {
    const waivers = matcher?.summary();
    for (const line of waivers ? staleLines(waivers) : []) this.builder.warn(null, line);
    const report = matcher ? matcher.finish(this.builder.build()) : this.builder.build();
    if (report.summary.traces === 0) {
      throw inputError(
        "trace.none",
        `no traces found in ${where}`,
        undefined,
        "traces are .json or .jsonl files",
      );
    }
    this.finished = true;
    if (this.collector) report.coverage = coverage ?? this.collector.summary(this.coverageMin);
    return report;
  }
}
