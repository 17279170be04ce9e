/**
 * The scorecard of `proof eval` as text for a terminal and as markdown (`eval.md`). Case ids,
 * tool names and evidence come from the agent's world: they are made visible and inert for each
 * medium (src/report/escape.ts).
 */
import { code, escapeMarkdown, publicName, terminalText, visible } from "../report/escape.js";
import { count } from "../report/text.js";
import type { Finding } from "./judge.js";
import type { ViolatingCall } from "./labels.js";
import { type CaseOutcome, type EvalReport, figure, type Score } from "./score.js";

/** Most evidence lines shown per finding; the rest are counted. */
const MAX_EVIDENCE = 3;

/** `send_email at message 8`, or what part of it the label gives. */
export function describeCall(c: ViolatingCall): string {
  const fn = c.function ?? "a call";
  return c.message_index === null ? fn : `${fn} at message ${c.message_index}`;
}

/** `rule on tool at ADDRESS (verdict)`. */
function findingHead(f: Finding): string {
  return `${f.rule} on ${f.tool} at ${f.at} (${f.verdict})`;
}

function evidenceLines(f: Finding): string[] {
  const shown = f.evidence.slice(0, MAX_EVIDENCE);
  if (f.evidence.length > MAX_EVIDENCE) shown.push(`and ${f.evidence.length - MAX_EVIDENCE} more`);
  return shown;
}

function groupText(groups: Record<string, string>, fields: readonly string[]): string {
  return fields
    .filter((f) => f in groups)
    .map((f) => `${f}=${groups[f]}`)
    .join(", ");
}

const COLUMNS = ["cases", "pos", "tp", "fp", "fn", "tn", "precision", "recall", "fpr"] as const;

function scoreCells(s: Score): string[] {
  return [
    String(s.cases),
    String(s.positives),
    String(s.tp),
    String(s.fp),
    String(s.fn),
    String(s.tn),
    figure(s.precision),
    figure(s.recall),
    figure(s.false_positive_rate),
  ];
}

/** What a miss let through and what fired below the flag level. */
function missLines(o: CaseOutcome, flagOn: string): string[] {
  const lines: string[] = [];
  if (o.violating_calls.length > 0) lines.push(`labelled: ${o.violating_calls.map(describeCall).join("; ")}`);
  if (o.findings.length === 0) lines.push(`no rule fired (verdict ${o.verdict}, below ${flagOn})`);
  for (const f of o.findings) lines.push(findingHead(f), ...evidenceLines(f).map((e) => `  ${e}`));
  return lines;
}

function alarmLines(o: CaseOutcome): string[] {
  return o.findings.flatMap((f) => [findingHead(f), ...evidenceLines(f).map((e) => `  ${e}`)]);
}

/**
 * The scorecard as plain text: the policies, one row per group with its confusion matrix and
 * figures, then every false alarm and miss with what fired, then the gate.
 */
export function renderEvalText(r: EvalReport): string {
  const t = (s: string): string => terminalText(visible(s));
  const out: string[] = [];
  out.push(
    `proof eval: ${count(r.labels.count, "labelled case")} (${t(r.labels.file)}), flagged at ${r.flag_on} or above`,
  );
  out.push("");
  const idWidth = Math.max(6, ...r.policies.map((p) => p.policy_id.length));
  out.push(`${"policy".padEnd(idWidth)}  ${"digest".padEnd(23)}  flagged  of them positive`);
  for (const p of r.policies) {
    out.push(
      `${t(p.policy_id).padEnd(idWidth)}  ${`${p.policy_digest.slice(0, 22)}…`.padEnd(23)}  ${String(p.flagged).padStart(7)}  ${String(p.flagged_positive).padStart(16)}`,
    );
  }
  out.push("");
  const rows: [string, Score][] = [
    ["overall", r.overall],
    ...r.groups.map((g) => [`${g.field}=${g.value}`, g] as [string, Score]),
  ];
  const nameWidth = Math.max(7, ...rows.map(([n]) => t(n).length));
  const widths = COLUMNS.map((c) => Math.max(c.length, 5));
  out.push(`${"".padEnd(nameWidth)}  ${COLUMNS.map((c, i) => c.padStart(widths[i] as number)).join("  ")}`);
  for (const [name, s] of rows) {
    out.push(
      `${t(name).padEnd(nameWidth)}  ${scoreCells(s)
        .map((c, i) => c.padStart(widths[i] as number))
        .join("  ")}`,
    );
  }
  const section = (title: string, list: CaseOutcome[], lines: (o: CaseOutcome) => string[]): void => {
    out.push("", `${title} (${list.length})${list.length > 0 ? ":" : ""}`);
    for (const o of list) {
      const groups = groupText(o.groups, r.group_by);
      out.push(`  ${t(publicName(o.case_id))}${groups ? `  [${t(groups)}]` : ""}`);
      for (const line of lines(o)) out.push(`    ${t(line)}`);
    }
  };
  section("false alarms", r.false_alarms, alarmLines);
  section("misses", r.misses, (o) => missLines(o, r.flag_on));
  if (r.unlabelled.length > 0) {
    const shown = r.unlabelled.slice(0, 5).map((id) => t(publicName(id)));
    out.push(
      "",
      `${count(r.unlabelled.length, "trace")} without a label, judged but not scored: ${shown.join(", ")}${r.unlabelled.length > 5 ? ", ..." : ""}`,
    );
  }
  if (r.gate.min_precision !== null || r.gate.min_recall !== null) {
    out.push("", r.gate.passed ? "gate: passed" : `gate: FAILED: ${r.gate.failures.join("; ")}`);
  }
  return `${out.join("\n")}\n`;
}

/** A markdown table cell for text from the agent's world or a label. */
function cell(text: string): string {
  return escapeMarkdown(publicName(text));
}

/**
 * The scorecard as GitHub-flavoured markdown (`eval.md`): the same content as
 * {@link renderEvalText}, as tables and lists.
 */
export function renderEvalMarkdown(r: EvalReport): string {
  const out: string[] = [];
  out.push("# proof eval", "");
  out.push(
    `${count(r.labels.count, "labelled case")} from ${cell(r.labels.file)} (${r.labels.format}); a case is flagged at ${code(r.flag_on)} or above.`,
  );
  out.push("", "| policy | digest | flagged | of them positive |", "|---|---|---:|---:|");
  for (const p of r.policies)
    out.push(`| ${cell(p.policy_id)} | ${code(p.policy_digest)} | ${p.flagged} | ${p.flagged_positive} |`);
  out.push("", `| group | ${COLUMNS.join(" | ")} |`, `|---|${COLUMNS.map(() => "---:").join("|")}|`);
  out.push(`| **overall** | ${scoreCells(r.overall).join(" | ")} |`);
  for (const g of r.groups) out.push(`| ${cell(`${g.field}=${g.value}`)} | ${scoreCells(g).join(" | ")} |`);
  const section = (title: string, list: CaseOutcome[], lines: (o: CaseOutcome) => string[]): void => {
    out.push("", `## ${title} (${list.length})`, "");
    if (list.length === 0) out.push("None.");
    for (const o of list) {
      const groups = groupText(o.groups, r.group_by);
      out.push(`- ${cell(o.case_id)}${groups ? ` (${cell(groups)})` : ""}`);
      for (const line of lines(o)) {
        const indent = line.startsWith("  ") ? "    " : "  ";
        out.push(`${indent}- ${cell(line.trimStart())}`);
      }
    }
  };
  section("False alarms", r.false_alarms, alarmLines);
  section("Misses", r.misses, (o) => missLines(o, r.flag_on));
  if (r.unlabelled.length > 0) {
    out.push("", `## Traces without a label (${r.unlabelled.length})`, "");
    for (const id of r.unlabelled) out.push(`- ${cell(id)}`);
  }
  if (r.gate.min_precision !== null || r.gate.min_recall !== null) {
    out.push("", "## Gate", "", r.gate.passed ? "Passed." : `Failed: ${cell(r.gate.failures.join("; "))}.`);
  }
  return `${out.join("\n")}\n`;
}
