import type { CoverageReport } from "../verify/coverage.js";
import type { Evidence } from "../verify/decision.js";
import {
  code,
  escapeMarkdown,
  MAX_PUBLIC_EVIDENCE,
  publicName,
  publicValue,
  shorten,
  takeWithin,
} from "./escape.js";
import { findingsOf } from "./findings.js";
import type { Report } from "./report.js";
import { count } from "./text.js";
import { waivedIndex, waivedLabel, waiverOf } from "./waived.js";

/** Most finding rows in the summary; the rest are counted. */
export const MAX_SUMMARY_ROWS = 50;

/** Most policies listed in the summary; the rest are counted. */
export const MAX_SUMMARY_POLICIES = 20;

/**
 * UTF-8 bytes one section of `summary.md` may take (the verify summary, or the regress section
 * written before it): two sections stay under GitHub's 1 MiB limit for a step summary.
 */
export const MAX_SUMMARY_SECTION_BYTES = 480 * 1024;

/** What the rows of a section may take: the section's budget less its fixed head and tail. */
export const SUMMARY_ROWS_BYTES = MAX_SUMMARY_SECTION_BYTES - 32 * 1024;

const ICON: Record<string, string> = { allow: "✅", warn: "⚠️", require_approval: "✋", block: "⛔" };

function evidenceCell(e: Evidence, redact: boolean): string {
  switch (e.kind) {
    case "provenance":
      return `${escapeMarkdown(shorten(e.arg))} \\= "${escapeMarkdown(publicValue(e.value, redact))}" from ${escapeMarkdown(publicName(e.source.at))}`;
    case "max_calls":
      return `${e.count} calls, limit ${e.limit} per ${e.per}`;
    case "require_before":
      return `no required event since ${e.since ? escapeMarkdown(publicName(e.since.at)) : "the start"}`;
    case "forbid_before":
      return `forbidden event at ${escapeMarkdown(publicName(e.found.at))}`;
  }
}

/**
 * `summary.md`: a bounded markdown summary for `$GITHUB_STEP_SUMMARY` and review. Every piece of
 * trace-derived text is made visible and escaped ({@link escapeMarkdown}); names are cut to 200
 * code points and argument values to 64, each cut marked with `…` and a SHA-256 prefix, or with
 * `redact` values are replaced by a SHA-256 prefix ({@link publicValue}). At most
 * {@link MAX_SUMMARY_ROWS} finding rows, {@link MAX_PUBLIC_EVIDENCE} pieces of evidence per row
 * and {@link MAX_SUMMARY_POLICIES} policies are listed, and rows stop before the section would
 * exceed {@link MAX_SUMMARY_SECTION_BYTES}; what is left out is counted (`and N more ...`).
 * With `gate: false` (under the regression gate, whose section comes first and decides) the
 * heading says neither passed nor failed, so the file gives one verdict.
 */
export function renderSummary(report: Report, options: { redact?: boolean; gate?: boolean } = {}): string {
  const redact = options.redact === true;
  const s = report.summary;
  const out: string[] = [];
  const totals = `${count(s.traces, "trace")}, ${count(s.tool_calls, "tool call")}`;
  if (options.gate === false) {
    // The regression section above holds the verdict: this one only describes the run.
    out.push("## Verdicts of this run");
    out.push("");
    out.push(`${totals}. The regression gate above, not these verdicts, decides the result.`);
  } else {
    // Coverage below `--min-coverage` fails a run whose traces all pass.
    const passed = report.passed && report.coverage?.passed !== false;
    out.push(`## proof verify: ${passed ? "passed" : "failed"}`);
    out.push("");
    out.push(`${totals}; ${s.failed} at or above ${code(report.fail_on)}.`);
  }
  out.push("");
  out.push("| verdict | traces |");
  out.push("| --- | ---: |");
  for (const [verdict, n] of Object.entries(s.verdicts))
    out.push(`| ${ICON[verdict] ?? ""} ${verdict} | ${n} |`);
  out.push("");
  out.push("Policies:");
  for (const p of report.policies.slice(0, MAX_SUMMARY_POLICIES))
    out.push(`- ${escapeMarkdown(publicName(p.policy_id))} ${code(p.policy_digest)}`);
  if (report.policies.length > MAX_SUMMARY_POLICIES)
    out.push(`- and ${report.policies.length - MAX_SUMMARY_POLICIES} more in report.json`);
  out.push("");
  const findings = findingsOf(report);
  const waived = waivedIndex(report);
  if (findings.length === 0) {
    out.push("No findings.");
  } else {
    out.push("### Findings");
    out.push("");
    out.push("| verdict | case | call | rules | evidence |");
    out.push("| --- | --- | --- | --- | --- |");
    const rows = takeWithin(
      findings.length,
      (i) => {
        const { trace: t, decision: d } = findings.at(i);
        const items = d.evidence
          .slice(0, MAX_PUBLIC_EVIDENCE)
          .map((e) => evidenceCell(e, redact))
          .concat(
            d.errors
              .slice(0, Math.max(0, MAX_PUBLIC_EVIDENCE - d.evidence.length))
              .map((e) => `error: ${escapeMarkdown(shorten(e.message))}`),
          );
        const more = d.evidence.length + d.errors.length - items.length;
        if (more > 0) items.push(`and ${more} more in report.json`);
        const waiver = waiverOf(waived, d);
        const verdict = waiver ? `${d.verdict} (${escapeMarkdown(waivedLabel(waiver))})` : d.verdict;
        return `| ${ICON[d.verdict] ?? ""} ${verdict} | ${escapeMarkdown(publicName(t.case_id))} | ${escapeMarkdown(publicName(d.tool))} at ${escapeMarkdown(publicName(d.at))} | ${escapeMarkdown(publicName(d.rules.join(", ")))} | ${items.join("; ")} |`;
      },
      MAX_SUMMARY_ROWS,
      SUMMARY_ROWS_BYTES,
    );
    out.push(...rows);
    if (findings.length > rows.length) {
      out.push("");
      out.push(`and ${count(findings.length - rows.length, "more finding")} in report.json.`);
    }
  }
  out.push(...waiverSection(report));
  if (report.warnings.length > 0) {
    out.push("");
    out.push(`${count(report.warnings.length, "warning")} in report.json.`);
  }
  if (report.coverage) out.push("", ...coverageSection(report.coverage));
  out.push("");
  return out.join("\n");
}

/** Most waiver ids listed per line of the waivers section; the rest are counted. */
const MAX_SUMMARY_WAIVERS = 50;

/** The waivers section of `summary.md`: waived calls, expired waivers (which fail), stale ones. */
function waiverSection(report: Report): string[] {
  const w = report.waivers;
  if (!w) return [];
  const ids = (list: readonly string[]) =>
    list
      .slice(0, MAX_SUMMARY_WAIVERS)
      .map((id) => code(id))
      .join(", ") +
    (list.length > MAX_SUMMARY_WAIVERS ? ` and ${list.length - MAX_SUMMARY_WAIVERS} more` : "");
  const out = ["", "### Waivers", ""];
  out.push(
    `${code(w.file)} ${code(w.digest)}, judged on ${w.today}: ${count(w.waived.length, "call")} waived.`,
  );
  if (w.expired.length > 0) {
    out.push("");
    out.push(
      `⛔ Expired (fails the gate; renew or remove): ${ids(w.expired.map((e) => `${e.id} ${e.expires}`))}.`,
    );
  }
  if (w.stale.length > 0) {
    out.push("");
    out.push(`⚠️ Stale (match no finding; remove): ${ids(w.stale)}.`);
  }
  return out;
}

/** Most dead rules named in the coverage section; the rest are counted. */
export const MAX_SUMMARY_DEAD_RULES = 20;

/**
 * The `### Coverage` section of `summary.md`: the outcome, rule and condition percentages, the
 * threshold when there is one, and the rules that never fired (at most
 * {@link MAX_SUMMARY_DEAD_RULES}; the rest are in `coverage.json`).
 */
export function coverageSection(c: CoverageReport): string[] {
  const out: string[] = [];
  const threshold =
    c.min_percent === null
      ? ""
      : c.passed
        ? `, at or above ${c.min_percent}%`
        : `, below the minimum ${c.min_percent}%`;
  out.push(`### Coverage: ${c.outcomes.percent}%${threshold}`);
  out.push("");
  out.push("| | covered | total | % |");
  out.push("| --- | ---: | ---: | ---: |");
  out.push(`| outcomes | ${c.outcomes.covered} | ${c.outcomes.total} | ${c.outcomes.percent} |`);
  out.push(`| rules fired | ${c.rules.covered} | ${c.rules.total} | ${c.rules.percent} |`);
  out.push(
    `| condition outcomes | ${c.conditions.covered} | ${c.conditions.total} | ${c.conditions.percent} |`,
  );
  out.push("");
  if (c.dead.length === 0) out.push("Every rule fired.");
  else {
    const shown = c.dead.slice(0, MAX_SUMMARY_DEAD_RULES).map((id) => code(shorten(id)));
    const more = c.dead.length - shown.length;
    out.push(
      `Dead rules (never fired): ${shown.join(", ")}${more > 0 ? `, and ${more} more in coverage.json` : ""}.`,
    );
  }
  return out;
}
