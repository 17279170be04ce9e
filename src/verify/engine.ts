import { getPath, MatchTypeError } from "../expr/matchers.js";
import type { ActivationReason } from "../plan/plan.js";
import { basicSelector } from "../plan/select.js";
import type { Verdict } from "../policy/ir.js";
import type { ToolCallEvent, Trace, TraceEvent } from "../trace/model.js";
import type { CompiledPolicy, CompiledRule } from "./compiled.js";
import type { CoverageCollector, RuleCounters } from "./coverage.js";
import {
  type Decision,
  type EvaluationError,
  type Evidence,
  eventRef,
  stricter,
  type TraceResult,
} from "./decision.js";
import { ARGUMENT_LIMIT_RULE, jsonBytes, maxArgumentBytes } from "./limits.js";
import { leafValues, ProvenanceIndex, type ProvenanceSource } from "./provenance.js";

/** Rules active for a context, per policy, in evaluation order. */
export interface Activation {
  /** policy_id -> active rule ids in evaluation order. */
  active: Map<string, string[]>;
  reasons: Map<string, ActivationReason>;
  /** Rules whose `when` was false. */
  skipped: string[];
  /** One message per `when` that failed to evaluate. */
  warnings: string[];
}

/**
 * Decides which rules are active for a context when no plan is given: the `basic` selector of
 * `proof adapt` for each policy (`when` true or absent; a `when` that fails keeps its rule active
 * with a warning), rules in id order.
 */
export function activate(policies: readonly CompiledPolicy[], context: unknown): Activation {
  const out: Activation = { active: new Map(), reasons: new Map(), skipped: [], warnings: [] };
  for (const policy of policies) {
    const selection = basicSelector.select(policy, context);
    out.active.set(
      policy.ir.policy_id,
      selection.active.map((a) => a.rule),
    );
    for (const a of selection.active) out.reasons.set(a.rule, a.reason[0] ?? "when:absent");
    out.skipped.push(...selection.skipped.map((s) => s.rule));
    out.warnings.push(...selection.warnings);
  }
  return out;
}

/** Running sequence state of one rule over one trace: never a rescan (docs/policy.md). */
interface SequenceState {
  sincePrev: number;
  sinceLast: number;
  requireLast: number;
  forbidLast: number;
  calls: number;
  error?: string;
}

interface RuleOutcome {
  matched: boolean;
  evidence: Evidence[];
  error?: string;
}

function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isArgumentObject(args: unknown): boolean {
  return args !== null && typeof args === "object" && !Array.isArray(args);
}

function describeArgs(args: unknown): string {
  return args === null ? "null" : Array.isArray(args) ? "an array" : `a ${typeof args}`;
}

/**
 * Argument sizes already measured, per call event, with the cap they were measured under: the live
 * guard re-judges the same events on every call and must not measure a large argument each time.
 */
const measured = new WeakMap<ToolCallEvent, { cap: number; bytes: number }>();

/** {@link jsonBytes} of a call's arguments, counted up to just above `cap`. */
function argumentBytes(call: ToolCallEvent, cap: number): number {
  const known = measured.get(call);
  // A size measured in full (not above its cap) is exact; one above a cap at least as high as
  // this one is above this one too.
  if (known && (known.bytes <= known.cap || known.cap >= cap)) return known.bytes;
  const bytes = jsonBytes(call.args, cap);
  measured.set(call, { cap, bytes });
  return bytes;
}

function describeError(err: unknown): string {
  if (err instanceof MatchTypeError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

/** Per-policy state while one trace is judged. */
class PolicyRun {
  readonly rules: CompiledRule[];
  private readonly order: Map<string, number>;
  private readonly sequences = new Map<string, SequenceState>();
  constructor(
    readonly policy: CompiledPolicy,
    activeIds: readonly string[],
    private readonly trace: Trace,
    private readonly context: unknown,
    private provenance: ProvenanceSource | undefined = undefined,
  ) {
    this.rules = activeIds.map((id) => policy.rules.get(id) as CompiledRule);
    this.order = new Map(activeIds.map((id, i) => [id, i]));
    for (const r of this.rules) {
      if (r.ir.match.sequence) {
        this.sequences.set(r.ir.id, {
          sincePrev: -1,
          sinceLast: -1,
          requireLast: -1,
          forbidLast: -1,
          calls: 0,
        });
      }
    }
  }

  private index(): ProvenanceSource {
    // A call over the argument limit is never judged, so its values are no patterns either:
    // they would cost memory in proportion to the hostile argument.
    this.provenance ??= ProvenanceIndex.build(this.trace, this.policy, (call) => this.oversized(call));
    return this.provenance;
  }

  /** The policy's `limits.max_argument_bytes`. */
  get argumentLimit(): number {
    return maxArgumentBytes(this.policy.ir);
  }

  /** Whether a call's arguments are over this policy's limit (measured at most once per call). */
  oversized(call: ToolCallEvent): boolean {
    return argumentBytes(call, this.argumentLimit) > this.argumentLimit;
  }

  /** Active candidate rules for a tool, in plan order. */
  candidates(tool: string): CompiledRule[] {
    return this.policy
      .rulesForTool(tool)
      .filter((r) => this.order.has(r.ir.id))
      .sort((a, b) => (this.order.get(a.ir.id) as number) - (this.order.get(b.ir.id) as number));
  }

  /** Counts a call against every `max_calls` rule whose tools it matches (before deciding it). */
  countCall(call: ToolCallEvent): void {
    for (const r of this.rules) {
      const st = this.sequences.get(r.ir.id);
      if (st && r.ir.match.sequence?.max_calls && r.matchesTool(call.tool)) st.calls++;
    }
  }

  /** Folds an event into every rule's sequence state (after the event's own decision). */
  observe(e: TraceEvent): void {
    for (const r of this.rules) {
      const st = this.sequences.get(r.ir.id);
      if (!st) continue;
      const per = r.ir.match.sequence?.max_calls?.per;
      if (e.type === "message" && (per === "message" || (per === "turn" && e.role === "user"))) st.calls = 0;
      try {
        if (r.since?.(e)) {
          st.sincePrev = st.sinceLast;
          st.sinceLast = e.seq;
        }
        if (r.requireBefore?.(e)) st.requireLast = e.seq;
        if (r.forbidBefore?.(e)) st.forbidLast = e.seq;
      } catch (err) {
        st.error ??= `sequence pattern on ${e.at}: ${describeError(err)}`;
      }
    }
  }

  /**
   * Whether `rule` matches `call`. With `cov` (coverage on), each condition evaluated is
   * recorded; without it nothing else is done, so coverage costs nothing when off.
   */
  evaluate(rule: CompiledRule, call: ToolCallEvent, cov: RuleCounters | null): RuleOutcome {
    const id = rule.ir.id;
    const evidence: Evidence[] = [];
    const no: RuleOutcome = { matched: false, evidence: [] };
    try {
      const prov = rule.ir.match.provenance;
      if ((prov || rule.ir.match.args.length > 0) && !isArgumentObject(call.args)) {
        // Arguments that are not an object (a recorded string that was not valid JSON) hide every
        // argument from matchers and provenance: judging them would fail open.
        return {
          matched: true,
          evidence,
          error: `arguments are not a JSON object (${describeArgs(call.args)})`,
        };
      }
      if (cov) {
        // The same short-circuit AND as `rule.args`, one argument at a time.
        const tests = rule.argTests;
        for (let i = 0; i < tests.length; i++) {
          const ok = (tests[i] as (v: unknown) => boolean)(call.args);
          cov.record(i, ok);
          if (!ok) return no;
        }
      } else if (!rule.args(call.args)) return no;
      if (prov) {
        for (const [i, arg] of prov.args.entries()) {
          const before = evidence.length;
          for (const value of leafValues(getPath(call.args, arg))) {
            const hit = this.index().lookup(value, call.seq, prov.from);
            if (hit) {
              evidence.push({
                rule: id,
                kind: "provenance",
                arg,
                value: hit.value,
                integrity: hit.integrity,
                source: hit.source,
                normalisation: hit.normalisation,
                ...(hit.field ? { source_field: hit.field } : {}),
                ...(hit.injection
                  ? {
                      injection: {
                        rules: [...hit.injection.rules],
                        start: hit.injection.start,
                        end: hit.injection.end,
                      },
                    }
                  : {}),
              });
            }
          }
          cov?.record(cov.index.provenance + i, evidence.length > before);
        }
        if (evidence.length === 0) return no;
      }
      const st = this.sequences.get(id);
      if (st) {
        if (st.error) return { matched: true, evidence, error: st.error };
        const seq = rule.ir.match.sequence;
        const start = st.sinceLast === call.message_seq ? st.sincePrev : st.sinceLast;
        const since = start >= 0 ? eventRef(this.trace.events[start] as TraceEvent) : null;
        if (rule.requireBefore) {
          cov?.record(cov.index.requireBefore, st.requireLast <= start);
          if (st.requireLast > start) return no;
          evidence.push({ rule: id, kind: "require_before", since });
        }
        if (rule.forbidBefore) {
          cov?.record(cov.index.forbidBefore, st.forbidLast > start);
          if (st.forbidLast <= start) return no;
          evidence.push({
            rule: id,
            kind: "forbid_before",
            found: eventRef(this.trace.events[st.forbidLast] as TraceEvent),
            since,
          });
        }
        const max = seq?.max_calls;
        if (max) {
          cov?.record(cov.index.maxCalls, st.calls > max.count);
          if (st.calls <= max.count) return no;
          evidence.push({ rule: id, kind: "max_calls", count: st.calls, limit: max.count, per: max.per });
        }
      }
      if (rule.condition) {
        const r = rule.condition.evaluate({ tool: call.tool, args: call.args, context: this.context });
        if ("error" in r) return { matched: true, evidence, error: `condition: ${r.error}` };
        cov?.record(cov.index.condition, r.value === true);
        if (!r.value) return no;
      }
      return { matched: true, evidence };
    } catch (err) {
      return { matched: true, evidence, error: describeError(err) };
    }
  }
}

/**
 * The decision engine (docs/policy.md): judges every tool call of a trace against every
 * policy's active rules. A call's verdict is the most restrictive effect of the rules that match
 * it, or each policy's default verdict when none does; an evaluation error counts as `block`
 * (`fail_closed`) or `warn` (observe mode) and is reported either way.
 */
export class Engine {
  constructor(
    private readonly policies: readonly CompiledPolicy[],
    private readonly activation: Activation,
    private readonly context: unknown,
    private readonly coverage: CoverageCollector | null = null,
  ) {
    coverage?.register(policies, activation.active);
  }

  /**
   * Judges one trace. Memory and time are linear in the trace (plus matches).
   * @param coverFrom with a coverage collector, only calls at this `seq` or later are recorded
   *   (a unit test of one call after earlier events covers that call only)
   */
  verify(trace: Trace, coverFrom = 0): TraceResult {
    const runs = this.policies.map(
      (p) => new PolicyRun(p, this.activation.active.get(p.ir.policy_id) ?? [], trace, this.context),
    );
    const decisions: Decision[] = [];
    let verdict: Verdict = "allow";
    const traceRules = new Set<string>();
    for (const event of trace.events) {
      if (event.type === "tool_call") {
        const d = decide(runs, trace, event, event.seq >= coverFrom ? this.coverage : null);
        decisions.push(d);
        verdict = stricter(verdict, d.verdict);
        for (const r of d.rules) traceRules.add(r);
      }
      for (const run of runs) run.observe(event);
    }
    return {
      case_id: trace.header.case_id,
      trace_id: trace.header.trace_id,
      verdict,
      rules: [...traceRules].sort(),
      tool_calls: decisions.length,
      decisions,
    };
  }

  /**
   * Opens a trace that grows while it is judged (the live guard): each {@link LiveRun.advance}
   * decides the calls appended since the last one, with the sequence state of the events before
   * them kept, never replayed. Decisions are those {@link Engine.verify} gives on the trace as it
   * stood when each call was decided. No coverage is recorded.
   * @param trace its `events` array is read as it grows (append only: an event once appended
   *   must not change)
   * @param provenance the provenance of each policy's lookups, for this trace (an index that
   *   follows the trace as it grows, src/verify/incremental.ts)
   */
  live(trace: Trace, provenance: (policy: CompiledPolicy) => ProvenanceSource): LiveRun {
    const runs = this.policies.map(
      (p) =>
        new PolicyRun(
          p,
          this.activation.active.get(p.ir.policy_id) ?? [],
          trace,
          this.context,
          provenance(p),
        ),
    );
    return new LiveRun(runs, trace);
  }
}

/** A trace judged as it grows: see {@link Engine.live}. */
export class LiveRun {
  /** Events already folded into the runs' state. */
  private done = 0;

  /** @internal built by {@link Engine.live} */
  constructor(
    private readonly runs: PolicyRun[],
    private readonly trace: Trace,
  ) {}

  /**
   * Decides the calls appended since the last call, in order, and folds every new event into the
   * sequence state: time in proportion to the new events, not to the trace.
   */
  advance(): Decision[] {
    const decisions: Decision[] = [];
    const events = this.trace.events;
    for (; this.done < events.length; this.done++) {
      const event = events[this.done] as TraceEvent;
      if (event.type === "tool_call") decisions.push(decide(this.runs, this.trace, event, null));
      for (const run of this.runs) run.observe(event);
    }
    return decisions;
  }
}

/**
 * The decision on one call: every policy's candidate rules in plan order, the sequence state as
 * it stands before the call.
 */
function decide(
  runs: PolicyRun[],
  trace: Trace,
  call: ToolCallEvent,
  coverage: CoverageCollector | null,
): Decision {
  let verdict: Verdict = "allow";
  const rules: string[] = [];
  const reasons = new Set<string>();
  const evidence: Evidence[] = [];
  const errors: EvaluationError[] = [];
  coverage?.call();
  for (const run of runs) {
    run.countCall(call);
    if (run.oversized(call)) {
      // Not judged at all: every matcher, pattern and provenance lookup would cost in
      // proportion to the argument. An evaluation error, so it fails closed.
      rules.push(ARGUMENT_LIMIT_RULE);
      reasons.add("evaluation_error");
      errors.push({
        rule: ARGUMENT_LIMIT_RULE,
        message: `arguments are over ${run.argumentLimit} bytes, the limit max_argument_bytes of policy ${run.policy.ir.policy_id}: not judged`,
      });
      verdict = stricter(verdict, run.policy.ir.defaults.fail_closed ? "block" : "warn");
      continue;
    }
    let policyVerdict: Verdict | undefined;
    for (const rule of run.candidates(call.tool)) {
      const cov = coverage ? coverage.rule(run.policy, rule.ir.id) : null;
      const outcome = run.evaluate(rule, call, cov);
      if (cov) {
        cov.evaluated++;
        if (outcome.error !== undefined) cov.errors++;
        else if (outcome.matched) cov.fired++;
      }
      if (!outcome.matched) continue;
      rules.push(rule.ir.id);
      evidence.push(...outcome.evidence);
      if (outcome.error !== undefined) {
        errors.push({ rule: rule.ir.id, message: outcome.error });
        reasons.add("evaluation_error");
        const v: Verdict = run.policy.ir.defaults.fail_closed ? "block" : "warn";
        policyVerdict = policyVerdict ? stricter(policyVerdict, v) : v;
      } else {
        reasons.add(rule.ir.reason);
        policyVerdict = policyVerdict ? stricter(policyVerdict, rule.ir.effect) : rule.ir.effect;
      }
    }
    verdict = stricter(verdict, policyVerdict ?? run.policy.ir.defaults.verdict);
  }
  // Rules run in plan order (cheapest first), which depends on the selector and weights; the
  // decision must not, so evidence and errors are reported by rule id (stable within a rule).
  evidence.sort((a, b) => byId(a.rule, b.rule));
  errors.sort((a, b) => byId(a.rule, b.rule));
  return {
    case_id: trace.header.case_id,
    trace_id: trace.header.trace_id,
    seq: call.seq,
    at: call.at,
    tool: call.tool,
    verdict,
    rules: [...new Set(rules)].sort(),
    reasons: [...reasons].sort(),
    evidence,
    errors,
  };
}
