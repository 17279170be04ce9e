/**
 * What the public artifacts (SARIF, JUnit, annotations) have in common: the findings of a report,
 * the rules they name, and a one-line account of their evidence. The accounts are visible text
 * (no line break or control character) of bounded length, but still hold attacker-controlled
 * trace content: each renderer escapes them for its medium.
 */
import type { ProofIR, Severity, Verdict } from "../policy/ir.js";
import { type Decision, type Evidence, VERDICT_ORDER } from "../verify/decision.js";
import { MAX_PUBLIC_EVIDENCE, publicName, publicValue, shorten } from "./escape.js";
import { type Finding, type Report, storedTraces } from "./report.js";

/** A rule as reports describe it: from the IR of the policy that holds it. */
export interface RuleMeta {
  id: string;
  policy_id: string;
  description: string | null;
  effect: Verdict;
  severity: Severity;
  reason: string;
}

/** Every rule of the given policies, sorted by id (ids are unique across a policy set). */
export function ruleMetaOf(irs: readonly ProofIR[]): RuleMeta[] {
  return irs
    .flatMap((ir) =>
      ir.rules.map((r) => ({
        id: r.id,
        policy_id: ir.policy_id,
        description: r.description ?? null,
        effect: r.effect,
        severity: r.severity,
        reason: r.reason,
      })),
    )
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export type { Finding } from "./report.js";

/**
 * The findings of a report (its non-`allow` decisions) in report order (case id, then call
 * order), read one at a time: `verdicts[k]` is the verdict of finding `k` and `at(k)` the finding,
 * its entry read back when the entries were spilled (src/io/trace-spill.ts).
 */
export interface FindingList {
  readonly length: number;
  readonly verdicts: readonly Verdict[];
  at(k: number): Finding;
}

/** The non-`allow` decisions of a report, in report order (case id, then call order). */
export function findingsOf(report: Report): FindingList {
  const stored = storedTraces(report);
  if (stored) {
    const verdicts = stored.findingVerdicts();
    return { length: verdicts.length, verdicts, at: (k) => stored.finding(k) };
  }
  const all: Finding[] = [];
  for (const trace of report.traces)
    for (const decision of trace.decisions) if (decision.verdict !== "allow") all.push({ trace, decision });
  return { length: all.length, verdicts: all.map((f) => f.decision.verdict), at: (k) => all[k] as Finding };
}

/**
 * The same findings, most restrictive verdict first (then case id and call order): the order in
 * which a size-limited medium (annotations) shows them. Stable, so byte-identical across runs.
 * Ordered by their verdicts alone: no entry is read back until a finding is asked for.
 */
export function findingsBySeverity(report: Report): FindingList {
  const all = findingsOf(report);
  const rank = all.verdicts.map((v) => VERDICT_ORDER.indexOf(v));
  const order = all.verdicts.map((_, i) => i).sort((a, b) => (rank[b] ?? 0) - (rank[a] ?? 0) || a - b);
  return {
    length: order.length,
    verdicts: order.map((i) => all.verdicts[i] as Verdict),
    at: (k) => all.at(order[k] as number),
  };
}

/**
 * One piece of evidence as one line of visible text (escape.ts `visible`), e.g.
 * `recipient = "DE89…" (untrusted) from messages[3]`, or from the field of structured content
 * (`messages[3].content[4].subject`), with the detector rules of an injected value. Matched
 * values go through {@link publicValue}: shortened to 64 code points, or a SHA-256 prefix with
 * `redact`; argument names and event addresses through {@link publicName}.
 */
export function describeEvidence(e: Evidence, redact: boolean): string {
  switch (e.kind) {
    case "provenance": {
      const rules = e.injection ? `: ${e.injection.rules.join(", ")}` : "";
      const from = publicName(e.source_field?.at ?? e.source.at);
      return `${shorten(e.arg)} = "${publicValue(e.value, redact)}" (${e.integrity}${rules}) from ${from}`;
    }
    case "max_calls":
      return `${e.count} calls, limit ${e.limit} per ${e.per}`;
    case "require_before":
      return `no required event since ${e.since ? publicName(e.since.at) : "the start"}`;
    case "forbid_before":
      return `forbidden event at ${publicName(e.found.at)}`;
  }
}

/**
 * Visible text of the evidence and evaluation errors of one decision, optionally only those of
 * one rule: at most {@link MAX_PUBLIC_EVIDENCE} entries, then `and N more in report.json`. Error
 * messages are shortened like values: they may quote argument content.
 */
export function describeDecision(d: Decision, redact: boolean, rule?: string): string[] {
  const evidence = d.evidence.filter((e) => rule === undefined || e.rule === rule);
  const errors = d.errors.filter((e) => rule === undefined || e.rule === rule);
  const total = evidence.length + errors.length;
  const lines = evidence
    .slice(0, MAX_PUBLIC_EVIDENCE)
    .map((e) => describeEvidence(e, redact))
    .concat(
      errors
        .slice(0, Math.max(0, MAX_PUBLIC_EVIDENCE - evidence.length))
        .map((e) => `evaluation error: ${shorten(e.message)}`),
    );
  if (total > lines.length) lines.push(`and ${total - lines.length} more in report.json`);
  return lines;
}
