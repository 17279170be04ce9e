import type { Verdict } from "../policy/ir.js";
import type { TraceEvent } from "../trace/model.js";

/** Verdicts from least to most restrictive; index order is what resolution compares. */
export const VERDICT_ORDER: readonly Verdict[] = ["allow", "warn", "require_approval", "block"];

/** The more restrictive of two verdicts. */
export function stricter(a: Verdict, b: Verdict): Verdict {
  return VERDICT_ORDER.indexOf(a) >= VERDICT_ORDER.indexOf(b) ? a : b;
}

/** Whether `v` is at or above `threshold`. */
export function atLeast(v: Verdict, threshold: Verdict): boolean {
  return VERDICT_ORDER.indexOf(v) >= VERDICT_ORDER.indexOf(threshold);
}

/** The event a piece of evidence points at. */
export interface EventRef {
  seq: number;
  at: string;
  type: "message" | "tool_call" | "tool_result";
  role?: string;
  tool?: string | null;
}

/** How evidence refers to an event: its seq, address, type, and its role or tool. */
export function eventRef(e: TraceEvent): EventRef {
  const r: EventRef = { seq: e.seq, at: e.at, type: e.type };
  if (e.type === "message") r.role = e.role;
  else r.tool = e.tool;
  return r;
}

/** Why a rule matched. `value` holds argument content: redact it where the medium is public. */
export type Evidence =
  | {
      rule: string;
      kind: "provenance";
      arg: string;
      value: string;
      integrity: "unknown" | "untrusted" | "injected";
      source: EventRef;
      normalisation: string[];
      /**
       * The leaf of structured content holding the value: `path` in the content (`[4].subject`)
       * and `at`, its full address (`messages[3].content[4].subject`). Only from a policy with
       * field rules or `from: injected`.
       */
      source_field?: { path: string; at: string };
      /**
       * For integrity `injected`: the injection detector's rules that marked the span, and the
       * span's extent as UTF-16 offsets (end exclusive) in the text of `source_field`, or else of the
       * source's content.
       */
      injection?: { rules: string[]; start: number; end: number };
    }
  | { rule: string; kind: "require_before"; since: EventRef | null }
  | { rule: string; kind: "forbid_before"; found: EventRef; since: EventRef | null }
  | { rule: string; kind: "max_calls"; count: number; limit: number; per: string };

/** An evaluation error of one rule on one call (type mismatch, CEL error, budget). */
export interface EvaluationError {
  rule: string;
  message: string;
}

/** The decision on one tool call (docs/cli.md, "proof verify"). `rules` and `reasons` are sorted. */
export interface Decision {
  case_id: string;
  trace_id: string;
  seq: number;
  at: string;
  tool: string;
  verdict: Verdict;
  rules: string[];
  reasons: string[];
  evidence: Evidence[];
  errors: EvaluationError[];
}

/** The result of one trace: its decisions and the most restrictive verdict among them. */
export interface TraceResult {
  case_id: string;
  trace_id: string;
  verdict: Verdict;
  /** Sorted union of the rules of its decisions. */
  rules: string[];
  tool_calls: number;
  decisions: Decision[];
}
