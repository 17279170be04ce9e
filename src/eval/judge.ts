/**
 * Judging for `proof eval`: every trace by every policy, with the engine of `proof verify`, one
 * engine per policy so that the scorecard can say which policy flagged a case. Pure: traces come
 * in already read.
 */
import type { Verdict } from "../policy/ir.js";
import type { PolicySet } from "../policy/set.js";
import type { Trace } from "../trace/model.js";
import type { CompiledPolicy } from "../verify/compiled.js";
import { type Evidence, stricter } from "../verify/decision.js";
import { activate, Engine } from "../verify/engine.js";

/** Longest argument value quoted in an evidence summary, in code points (the rest is cut). */
const MAX_QUOTED = 80;

/** One rule that matched one call, with its evidence in words. */
export interface Finding {
  policy_id: string;
  rule: string;
  tool: string;
  /** The call's position in the trace (docs/traces.md) and its address in the source file. */
  seq: number;
  at: string;
  /** The call's verdict under this policy. */
  verdict: Verdict;
  /** One line per piece of evidence or evaluation error, e.g. `recipients 'x@y.z' from tool_result search_emails (untrusted) at messages[3]`. */
  evidence: string[];
}

/** A case judged by every policy. */
export interface JudgedCase {
  case_id: string;
  /** The trace file as given, `/`-separated. */
  file: string;
  /** The most restrictive verdict over all policies. */
  verdict: Verdict;
  /** policy_id -> the case's verdict under that policy alone. */
  verdicts: Record<string, Verdict>;
  /** Calls some rule matched, in policy then call order. */
  findings: Finding[];
}

function quote(value: string): string {
  const points = [...value];
  return `'${points.length > MAX_QUOTED ? `${points.slice(0, MAX_QUOTED).join("")}…` : value}'`;
}

/** One piece of evidence in words. */
export function describeEvidence(e: Evidence): string {
  switch (e.kind) {
    case "provenance": {
      const from = e.source.tool ?? e.source.role ?? "";
      const norm = e.normalisation.length > 0 ? `, after ${e.normalisation.join("+")}` : "";
      return `${e.arg} ${quote(e.value)} from ${e.source.type}${from ? ` ${from}` : ""} (${e.integrity}${norm}) at ${e.source.at}`;
    }
    case "require_before":
      return `no required event${e.since ? ` since ${e.since.at}` : " before it"}`;
    case "forbid_before":
      return `forbidden event at ${e.found.at}${e.since ? ` since ${e.since.at}` : ""}`;
    case "max_calls":
      return `call ${e.count} of at most ${e.limit} per ${e.per}`;
  }
}

/**
 * Judges traces one policy at a time, each with its own engine and the rules active for an
 * empty context (as `proof verify` without `--context`).
 */
export class CaseJudge {
  private readonly engines: { policy: CompiledPolicy; engine: Engine }[];

  /** @param warn receives each `when` that failed to evaluate (its rule stays active). */
  constructor(sets: readonly PolicySet[], warn: (message: string) => void = () => {}) {
    this.engines = sets.flatMap((set) =>
      set.compiled.map((policy) => {
        const activation = activate([policy], {});
        for (const w of activation.warnings) warn(w);
        return { policy, engine: new Engine([policy], activation, {}, null) };
      }),
    );
  }

  /** Judges one trace read from `file`. */
  judge(trace: Trace, file: string): JudgedCase {
    let verdict: Verdict = "allow";
    const verdicts: Record<string, Verdict> = {};
    const findings: Finding[] = [];
    let caseId = trace.header.case_id;
    for (const { policy, engine } of this.engines) {
      const result = engine.verify(trace);
      caseId = result.case_id;
      verdicts[policy.ir.policy_id] = result.verdict;
      verdict = stricter(verdict, result.verdict);
      for (const d of result.decisions) {
        for (const rule of d.rules) {
          findings.push({
            policy_id: policy.ir.policy_id,
            rule,
            tool: d.tool,
            seq: d.seq,
            at: d.at,
            verdict: d.verdict,
            evidence: [
              ...d.evidence.filter((e) => e.rule === rule).map(describeEvidence),
              ...d.errors.filter((e) => e.rule === rule).map((e) => `error: ${e.message}`),
            ],
          });
        }
      }
    }
    return { case_id: caseId, file, verdict, verdicts, findings };
  }
}
