/**
 * How waivers change what the public artifacts show (docs/testing.md, "Waivers"): a call whose
 * findings are all waived (`report.waivers.waived`) counts as `allow` for the gate, so a case
 * fails only on its other calls. Without a waivers file every helper here is the identity.
 */
import type { Verdict } from "../policy/ir.js";
import { atLeast, type Decision, stricter } from "../verify/decision.js";
import type { Report, ReportWaivers, TraceEntry, WaivedCall } from "./report.js";

/** The waived calls of a report, by `case_id` and `seq`. */
export type WaivedIndex = ReadonlyMap<string, WaivedCall>;

function key(caseId: string, seq: number): string {
  return `${caseId}\u0000${seq}`;
}

/** Indexes `report.waivers.waived` (empty without waivers). */
export function waivedIndex(report: Pick<Report, "waivers">): WaivedIndex {
  return new Map((report.waivers?.waived ?? []).map((w) => [key(w.case_id, w.seq), w]));
}

/** The waiver entry of one decision, if its findings are all waived. */
export function waiverOf(index: WaivedIndex, d: Pick<Decision, "case_id" | "seq">): WaivedCall | undefined {
  return index.get(key(d.case_id, d.seq));
}

/** The verdict of a trace once waived calls count as `allow`: what the gate compares with `fail_on`. */
export function gateVerdict(trace: TraceEntry, index: WaivedIndex): Verdict {
  let v: Verdict = "allow";
  for (const d of trace.decisions) if (!index.has(key(d.case_id, d.seq))) v = stricter(v, d.verdict);
  return v;
}

/** Whether a trace fails the verify gate: its verdict, waived calls left out, is at or above `fail_on`. */
export function traceFails(report: Pick<Report, "fail_on">, trace: TraceEntry, index: WaivedIndex): boolean {
  return atLeast(gateVerdict(trace, index), report.fail_on);
}

/** Whether a trace has a waived call and passes the gate: JUnit shows it as skipped. */
export function traceWaived(report: Pick<Report, "fail_on">, trace: TraceEntry, index: WaivedIndex): boolean {
  return !traceFails(report, trace, index) && trace.decisions.some((d) => index.has(key(d.case_id, d.seq)));
}

/** The ids of the waivers that waive some call of a trace, sorted, without repeats. */
export function traceWaivers(trace: TraceEntry, index: WaivedIndex): string[] {
  const ids = new Set(trace.decisions.flatMap((d) => index.get(key(d.case_id, d.seq))?.waivers ?? []));
  return [...ids].sort();
}

/**
 * The SARIF justification of a waived call (trusted text from the waivers file, still made
 * visible by the renderer): `W-1 (owner alice, expires 2026-12-31): reason; ...`.
 */
export function justification(report: Pick<Report, "waivers">, w: WaivedCall): string {
  const byId = new Map((report.waivers?.applied ?? []).map((a) => [a.id, a]));
  return w.waivers
    .map((id) => {
      const a = byId.get(id);
      return a ? `${id} (owner ${a.owner}, expires ${a.expires}): ${a.reason}` : id;
    })
    .join("; ");
}

/** One line naming waivers, e.g. `waived by W-12, W-13`. */
export function waivedLabel(w: { waivers: readonly string[] }): string {
  return `waived by ${w.waivers.join(", ")}`;
}

/** One line per expired waiver for a terminal or a failure message: `waiver W-1 (rule r) expired on 2026-01-31`. */
export function expiredLines(w: ReportWaivers): string[] {
  return w.expired.map(
    (e) =>
      `waiver ${e.id} (rule ${e.rule}) expired on ${e.expires} (today is ${w.today}): renew or remove it`,
  );
}

/** One line per stale waiver: `waiver W-2 matches no finding: remove it`. */
export function staleLines(w: ReportWaivers): string[] {
  return w.stale.map((id) => `waiver ${id} matches no finding: remove it`);
}
