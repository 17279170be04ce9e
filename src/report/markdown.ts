import { code, escapeMarkdown, publicValue, shorten } from "./escape.js";
import type { Report } from "./report.js";

/** Most finding rows in the summary; the rest are counted, so the file stays far below 1 MiB. */
export const MAX_SUMMARY_ROWS = 50;

const ICON: Record<string, string> = { allow: "✅", warn: "⚠️", require_approval: "✋", block: "⛔" };

/**
 * `summary.md`: a bounded markdown summary for `$GITHUB_STEP_SUMMARY` and review. Every piece of
 * trace-derived text is escaped and argument values are shortened to 64 characters, or with
 * `redact` replaced by a SHA-256 prefix ({@link publicValue}).
 */
export function renderSummary(report: Report, options: { redact?: boolean } = {}): string {
  const s = report.summary;
  const out: string[] = [];
  out.push(`## proof verify: ${report.passed ? "passed" : "failed"}`);
  out.push("");
  out.push(
    `${s.traces} traces, ${s.tool_calls} tool calls; ${s.failed} at or above ${code(report.fail_on)}.`,
  );
  out.push("");
  out.push("| verdict | traces |");
  out.push("| --- | ---: |");
  for (const [verdict, n] of Object.entries(s.verdicts))
    out.push(`| ${ICON[verdict] ?? ""} ${verdict} | ${n} |`);
  out.push("");
  out.push("Policies:");
  for (const p of report.policies) out.push(`- ${escapeMarkdown(p.policy_id)} ${code(p.policy_digest)}`);
  out.push("");
  const findings = report.traces.flatMap((t) =>
    t.decisions.filter((d) => d.verdict !== "allow").map((d) => ({ t, d })),
  );
  if (findings.length === 0) {
    out.push("No findings.");
  } else {
    out.push("### Findings");
    out.push("");
    out.push("| verdict | case | call | rules | evidence |");
    out.push("| --- | --- | --- | --- | --- |");
    for (const { t, d } of findings.slice(0, MAX_SUMMARY_ROWS)) {
      const evidence = d.evidence
        .map((e) =>
          e.kind === "provenance"
            ? `${escapeMarkdown(e.arg)} \\= "${escapeMarkdown(publicValue(e.value, options.redact === true))}" from ${escapeMarkdown(e.source.at)}`
            : e.kind === "max_calls"
              ? `${e.count} calls, limit ${e.limit} per ${e.per}`
              : e.kind === "require_before"
                ? `no required event since ${e.since ? escapeMarkdown(e.since.at) : "the start"}`
                : `forbidden event at ${escapeMarkdown(e.found.at)}`,
        )
        .concat(d.errors.map((e) => `error: ${escapeMarkdown(shorten(e.message))}`))
        .join("; ");
      out.push(
        `| ${ICON[d.verdict] ?? ""} ${d.verdict} | ${escapeMarkdown(t.case_id)} | ${escapeMarkdown(d.tool)} at ${escapeMarkdown(d.at)} | ${d.rules.map(escapeMarkdown).join(", ")} | ${evidence} |`,
      );
    }
    if (findings.length > MAX_SUMMARY_ROWS) {
      out.push("");
      out.push(`and ${findings.length - MAX_SUMMARY_ROWS} more findings in report.json.`);
    }
  }
  if (report.warnings.length > 0) {
    out.push("");
    out.push(`${report.warnings.length} warnings in report.json.`);
  }
  out.push("");
  return out.join("\n");
}
