import type { Verdict } from "../policy/ir.js";
import type { FormatName } from "../trace/model.js";
import type { CoverageReport } from "../verify/coverage.js";
import { atLeast, type Decision, type TraceResult, VERDICT_ORDER } from "../verify/decision.js";

/** A policy a run was judged by. */
export interface PolicyRef {
  policy_id: string;
  policy_digest: string;
}

/** One trace in the report (docs/artifacts.md). `decisions` lists the calls some rule matched or that are not `allow`. */
export interface TraceEntry {
  case_id: string;
  trace_id: string;
  /** The file as given on the command line, relative, `/`-separated. */
  file: string;
  format: FormatName;
  verdict: Verdict;
  rules: string[];
  tool_calls: number;
  decisions: Decision[];
}

/** A note that is not a failure: a `when` that failed to evaluate, an orphan tool result. */
export interface ReportWarning {
  case_id: string | null;
  message: string;
}

/** A call whose findings are all waived (docs/testing.md, "Waivers"): it does not fail the gate. */
export interface WaivedCall {
  case_id: string;
  seq: number;
  tool: string;
  /** The rules that made the call a finding, sorted. */
  rules: string[];
  /** The ids of the waivers that cover them, sorted. */
  waivers: string[];
}

/** A waiver whose `expires` date is before the run's date: it waives nothing and fails the gate. */
export interface ExpiredWaiver {
  id: string;
  rule: string;
  /** YYYY-MM-DD, the last day on which the waiver applied. */
  expires: string;
}

/** A waiver that waived at least one call: who answers for it, why, and until when. */
export interface AppliedWaiver {
  id: string;
  rule: string;
  owner: string;
  reason: string;
  /** YYYY-MM-DD. */
  expires: string;
}

/** What the waivers file of a run did (`--waivers`). */
export interface ReportWaivers {
  /** The file as given, `/`-separated. */
  file: string;
  /** `sha256:` + hex SHA-256 of the file's bytes. */
  digest: string;
  /** The date expiry was judged against, YYYY-MM-DD (UTC). */
  today: string;
  /** Waivers that matched a finding, in file order. */
  applied: AppliedWaiver[];
  /** Waived calls, in report order (case id, then call order). */
  waived: WaivedCall[];
  /** Expired waivers, in file order. */
  expired: ExpiredWaiver[];
  /** Ids of unexpired waivers that matched no finding, in file order. */
  stale: string[];
}

/** `report.json`, `proof.report/v1` (schemas/report.schema.json). */
export interface Report {
  schema: "proof.report/v1";
  policies: PolicyRef[];
  /** SHA-256 over the sorted list of policy digests. */
  bundle_digest: string;
  context_digest: string | null;
  fail_on: Verdict;
  passed: boolean;
  summary: {
    traces: number;
    tool_calls: number;
    /** Traces per verdict. */
    verdicts: Record<Verdict, number>;
    /** Traces at or above `fail_on`, not counting calls whose findings are all waived. */
    failed: number;
  };
  /** Sorted by case_id. */
  traces: TraceEntry[];
  warnings: ReportWarning[];
  /** Present when a waivers file was given; `passed` is then false when one has expired. */
  waivers?: ReportWaivers;
  /** Policy coverage of the run, with `--coverage` only (the same document as `coverage.json`). */
  coverage?: CoverageReport;
}

/**
 * The entry of every trace with no kept decision shares this list: most traces of a large corpus
 * have none. Frozen, so that adding to one entry's list fails loudly instead of adding to all.
 */
const NO_DECISIONS = Object.freeze([]) as unknown as Decision[];

/**
 * The decisions a report entry keeps (those some rule matched or that are not `allow`), in lists
 * of their exact length: a list grown by `push` or `filter` keeps spare slots (over 100 bytes for
 * one element), and the report holds these lists for every trace until it is written.
 */
function kept(decisions: readonly Decision[]): Decision[] {
  const found = decisions.filter((d) => d.verdict !== "allow" || d.rules.length > 0);
  if (found.length === 0) return NO_DECISIONS;
  return found.map((d) => (d.evidence.length === 0 ? d : { ...d, evidence: d.evidence.slice() }));
}

/** Collects trace results one by one and assembles the report; holds only findings, not every decision. */
export class ReportBuilder {
  private readonly traces: TraceEntry[] = [];
  private readonly warnings: ReportWarning[] = [];
  private readonly caseIds = new Map<string, string>();
  private toolCalls = 0;

  constructor(
    private readonly policies: PolicyRef[],
    private readonly bundleDigest: string,
    private readonly contextDigest: string | null,
    private readonly failOn: Verdict,
  ) {}

  /**
   * Adds one judged trace.
   * @returns the file that already holds this case id (a collision), or undefined.
   */
  add(result: TraceResult, file: string, format: FormatName): string | undefined {
    const clash = this.caseIds.get(result.case_id);
    if (clash !== undefined) return clash;
    this.caseIds.set(result.case_id, file);
    this.toolCalls += result.tool_calls;
    this.traces.push({
      case_id: result.case_id,
      trace_id: result.trace_id,
      file,
      format,
      verdict: result.verdict,
      rules: result.rules,
      tool_calls: result.tool_calls,
      decisions: kept(result.decisions),
    });
    return undefined;
  }

  /** The entries added so far, in the order added (the report sorts them by case id). */
  entries(): readonly TraceEntry[] {
    return this.traces;
  }

  /** Adds a warning, optionally tied to a case. */
  warn(caseId: string | null, message: string): void {
    this.warnings.push({ case_id: caseId, message });
  }

  /** The finished report, everything sorted so that it is byte-identical across runs. */
  build(): Report {
    const traces = [...this.traces].sort((a, b) =>
      a.case_id < b.case_id ? -1 : a.case_id > b.case_id ? 1 : 0,
    );
    const verdicts = Object.fromEntries(VERDICT_ORDER.map((v) => [v, 0])) as Record<Verdict, number>;
    for (const t of traces) verdicts[t.verdict]++;
    const failed = traces.filter((t) => atLeast(t.verdict, this.failOn)).length;
    const warnings = [...this.warnings].sort((a, b) => {
      const ka = `${a.case_id ?? ""}\u0000${a.message}`;
      const kb = `${b.case_id ?? ""}\u0000${b.message}`;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    return {
      schema: "proof.report/v1",
      policies: this.policies,
      bundle_digest: this.bundleDigest,
      context_digest: this.contextDigest,
      fail_on: this.failOn,
      passed: failed === 0,
      summary: { traces: traces.length, tool_calls: this.toolCalls, verdicts, failed },
      traces,
      warnings,
    };
  }
}
