import { PRETTY_PARTS } from "../io/canonical.js";
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

/**
 * Where a {@link ReportBuilder} keeps the entries of a run, once they outgrow memory: a store that
 * writes each entry out as it comes (src/io/trace-spill.ts) and reads entries back when asked, so
 * that a run over a large corpus holds an index of its cases instead of every entry.
 */
export interface TraceEntryStore {
  /** Takes the entries added so far (in the order added) and every later one. */
  add(entry: TraceEntry): void;
  /** The entries in the order added. */
  inOrder(): Iterable<TraceEntry>;
  /** The entries sorted by case id (code-unit order), as the report lists them. */
  sorted(): StoredTraces;
  /** The file of the entry added `index`-th (for the message about a repeated case id). */
  fileAt(index: number): string;
}

/**
 * The entries of a report kept in a {@link TraceEntryStore}, sorted by case id: read back one at a
 * time, never all at once (see {@link reportEntries}, findings.ts `findingsOf`).
 */
export interface StoredTraces {
  readonly length: number;
  /** The entries in report order. */
  entries(): Iterable<TraceEntry>;
  /** The verdict of each entry in report order, without reading entries back. */
  verdicts(): readonly Verdict[];
  /**
   * The verdict of each finding (a decision that is not `allow`) in report order: what findings
   * are counted and ordered by without reading entries back.
   */
  findingVerdicts(): Verdict[];
  /** The `k`-th finding in report order (its entry read back). */
  finding(k: number): Finding;
  /** The entry of a case id, read back, or undefined. */
  find(caseId: string): TraceEntry | undefined;
  /** Each entry's `prettyJsonParts` text at `indent`, in report order, without parsing it. */
  rendered(indent: string): Iterable<string>;
}

/** A tool call whose verdict is not `allow`, with the trace that holds it. */
export interface Finding {
  trace: TraceEntry;
  decision: Decision;
}

/**
 * Entries kept in memory until their size passes `budget` bytes (a rough count: each entry's
 * strings and decisions), then handed to `spill()`'s store, which takes every later one too;
 * when `spill()` gives none (no place to write them), they stay in memory.
 */
export interface SpillPolicy {
  budget: number;
  spill(): TraceEntryStore | undefined;
}

/** Where a report whose entries were spilled keeps them (see {@link reportEntries}). */
const STORED = Symbol("storedTraces");

type StoredReport = Report & { [STORED]?: StoredTraces };

/** Rough bytes an entry takes in memory: what {@link SpillPolicy.budget} counts. */
function entryBytes(e: TraceEntry): number {
  let n = 256 + 2 * (e.case_id.length + e.file.length);
  for (const d of e.decisions) n += 512 + 256 * (d.evidence.length + d.errors.length);
  return n;
}

/** Collects trace results one by one and assembles the report; holds only findings, not every decision. */
export class ReportBuilder {
  private traces: TraceEntry[] = [];
  private readonly warnings: ReportWarning[] = [];
  /** Index of each case id's entry, in the order added. */
  private readonly caseIds = new Map<string, number>();
  private toolCalls = 0;
  private store: TraceEntryStore | undefined;
  private bytes = 0;

  constructor(
    private readonly policies: PolicyRef[],
    private readonly bundleDigest: string,
    private readonly contextDigest: string | null,
    private readonly failOn: Verdict,
    private spill?: SpillPolicy,
  ) {}

  /**
   * Adds one judged trace.
   * @returns the file that already holds this case id (a collision), or undefined.
   */
  add(result: TraceResult, file: string, format: FormatName): string | undefined {
    const clash = this.caseIds.get(result.case_id);
    if (clash !== undefined) return this.store ? this.store.fileAt(clash) : this.traces[clash]?.file;
    this.caseIds.set(result.case_id, this.caseIds.size);
    this.toolCalls += result.tool_calls;
    const entry: TraceEntry = {
      case_id: result.case_id,
      trace_id: result.trace_id,
      file,
      format,
      verdict: result.verdict,
      rules: result.rules,
      tool_calls: result.tool_calls,
      decisions: kept(result.decisions),
    };
    if (this.store) {
      this.store.add(entry);
      return undefined;
    }
    this.traces.push(entry);
    if (this.spill) {
      this.bytes += entryBytes(entry);
      if (this.bytes > this.spill.budget) {
        const store = this.spill.spill();
        if (store) {
          for (const e of this.traces) store.add(e);
          this.store = store;
          this.traces = [];
        } else this.spill = undefined;
      }
    }
    return undefined;
  }

  /** The entries added so far, in the order added (the report sorts them by case id). */
  entries(): Iterable<TraceEntry> {
    return this.store ? this.store.inOrder() : this.traces;
  }

  /** Adds a warning, optionally tied to a case. */
  warn(caseId: string | null, message: string): void {
    this.warnings.push({ case_id: caseId, message });
  }

  /**
   * The finished report, everything sorted so that it is byte-identical across runs. When the
   * entries were spilled, `traces` is read back whole only if a caller asks for it: the run's own
   * artifacts read entries one at a time ({@link reportEntries}).
   */
  build(): Report {
    const verdicts = Object.fromEntries(VERDICT_ORDER.map((v) => [v, 0])) as Record<Verdict, number>;
    let failed = 0;
    let count = 0;
    let stored: StoredTraces | undefined;
    let traces: TraceEntry[] = [];
    const tally = (t: Pick<TraceEntry, "verdict">): void => {
      verdicts[t.verdict]++;
      if (atLeast(t.verdict, this.failOn)) failed++;
      count++;
    };
    if (this.store) {
      stored = this.store.sorted();
      for (const verdict of stored.verdicts()) tally({ verdict });
    } else {
      traces = [...this.traces].sort((a, b) => (a.case_id < b.case_id ? -1 : a.case_id > b.case_id ? 1 : 0));
      for (const t of traces) tally(t);
    }
    const warnings = [...this.warnings].sort((a, b) => {
      const ka = `${a.case_id ?? ""}\u0000${a.message}`;
      const kb = `${b.case_id ?? ""}\u0000${b.message}`;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    const report: Report = {
      schema: "proof.report/v1",
      policies: this.policies,
      bundle_digest: this.bundleDigest,
      context_digest: this.contextDigest,
      fail_on: this.failOn,
      passed: failed === 0,
      summary: { traces: count, tool_calls: this.toolCalls, verdicts, failed },
      traces,
      warnings,
    };
    return stored ? withStoredTraces(report, stored) : report;
  }
}

/**
 * `report` whose `traces` are those of `stored`: read back whole only when a caller reads
 * `traces` (once, then kept), and not serialised by {@link reportEntries}' users at all.
 */
function withStoredTraces(report: Report, stored: StoredTraces): Report {
  let whole: TraceEntry[] | undefined;
  Object.defineProperty(report, "traces", {
    enumerable: true,
    configurable: true,
    get: () => {
      whole ??= [...stored.entries()];
      return whole;
    },
  });
  Object.defineProperty(report, STORED, { value: stored, enumerable: false });
  return report;
}

/**
 * A copy of `report` with `fields` replaced, which keeps spilled entries spilled (a spread would
 * read every entry back).
 */
export function reportWith(report: Report, fields: Partial<Omit<Report, "traces">>): Report {
  const copy = Object.defineProperties({}, Object.getOwnPropertyDescriptors(report)) as Report;
  const stored = (report as StoredReport)[STORED];
  if (stored) Object.defineProperty(copy, STORED, { value: stored, enumerable: false });
  return Object.assign(copy, fields);
}

/** The entries a report was built from when they were spilled, else undefined. */
export function storedTraces(report: Report): StoredTraces | undefined {
  return (report as StoredReport)[STORED];
}

/**
 * The report as `prettyJsonParts` should write it: itself, or when its entries were spilled a
 * copy whose `traces` gives their stored text (nothing is parsed or held whole).
 */
export function reportForWriting(report: Report): unknown {
  const stored = storedTraces(report);
  if (!stored) return report;
  const view: Record<string, unknown> = {};
  for (const [key, d] of Object.entries(Object.getOwnPropertyDescriptors(report))) {
    view[key] = key === "traces" ? { [PRETTY_PARTS]: (indent: string) => stored.rendered(indent) } : d.value;
  }
  return view;
}

/** The report's entries in report order, read back one at a time when they were spilled. */
export function reportEntries(report: Report): Iterable<TraceEntry> {
  return storedTraces(report)?.entries() ?? report.traces;
}

/** The report's number of entries, without reading spilled ones back. */
export function entryCount(report: Report): number {
  return storedTraces(report)?.length ?? report.traces.length;
}

/** The file of a case's entry, or undefined when the report has no such case. */
export function fileOfCase(report: Report): (caseId: string) => string | undefined {
  const stored = storedTraces(report);
  if (stored) return (caseId) => stored.find(caseId)?.file;
  let files: Map<string, string> | undefined;
  return (caseId) => {
    files ??= new Map(report.traces.map((t) => [t.case_id, t.file]));
    return files.get(caseId);
  };
}
