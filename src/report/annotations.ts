/**
 * `annotations.txt`: GitHub Actions workflow commands (`::error file=F,title=T::MESSAGE`, see
 * GitHub's "Workflow commands for GitHub Actions", setting an error/warning message) for the
 * most important findings, which the action prints inside `::stop-commands::` guards so that
 * nothing else in the log can issue commands. Every property and message is escaped as the
 * Actions runner unescapes it (`@actions/core`'s `escapeData`/`escapeProperty`), and trace text
 * is made visible first (no line break or control character survives), so it can neither end the
 * line nor start a command of its own.
 */
import { atLeast } from "../verify/decision.js";
import { clip, publicName, visible } from "./escape.js";
import { describeDecision, findingsBySeverity } from "./findings.js";
import { acceptHint, type RegressGate, transitionSentence, verdictArrow } from "./gate.js";
import { fileOfCase, type Report } from "./report.js";
import { count } from "./text.js";
import { waivedIndex, waivedLabel, waiverOf } from "./waived.js";

/** Findings annotated one by one; the rest are counted in one closing line. */
export const MAX_ANNOTATIONS = 10;

/** Longest message of one annotation before escaping, in code points. */
export const MAX_ANNOTATION_MESSAGE = 1024;

/** Escapes a message: `%` → `%25`, CR → `%0D`, LF → `%0A`. */
export function escapeData(text: string): string {
  return text.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

/** Escapes a property value: as {@link escapeData}, and `:` → `%3A`, `,` → `%2C`. */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, "%3A").replace(/,/g, "%2C");
}

/** Transition kinds in the order their annotations come: what fails first. */
const KIND_ORDER = ["loosened", "tightened", "missing", "new", "changed"];

/**
 * The annotations of the regression gate: one `::error` per failing transition (a case whose
 * verdict equals the baseline's annotates nothing, blocked or not), loosened first, then by case
 * id. `file` is the trace file (the baseline for a missing case), `title` the transition, the
 * message what changed and the `proof regress accept` command that records an intended change.
 */
function regressLines(report: Report, gate: RegressGate): { lines: string[]; total: number } {
  const files = fileOfCase(report);
  const failing = gate.result.transitions
    .filter((t) => t.fails)
    .sort(
      (a, b) =>
        KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
        (a.case_id < b.case_id ? -1 : a.case_id > b.case_id ? 1 : 0),
    );
  const lines = failing.slice(0, MAX_ANNOTATIONS).map((t) => {
    const file = files(t.case_id) ?? gate.baseline;
    const title = `proof: ${t.kind} ${verdictArrow(t)}`;
    const message = clip(
      `${publicName(t.case_id)}: ${transitionSentence(t)} ${visible(gate.baseline)}. ${visible(acceptHint(gate))}`,
      MAX_ANNOTATION_MESSAGE,
    );
    return `::error file=${escapeProperty(publicName(file))},title=${escapeProperty(title)}::${escapeData(message)}`;
  });
  return { lines, total: failing.length };
}

/**
 * Renders `annotations.txt`, most important first, at most {@link MAX_ANNOTATIONS} lines, then
 * `::notice::and N more ... in report.json` when there are more; an empty file when there are
 * none. Lines end with `\n`.
 *
 * - Under `proof verify`: one line per finding, most restrictive first: `::error` when its verdict
 *   is at or above `fail_on` (it fails the gate), `::warning` otherwise. `file` is the trace file,
 *   `title` the verdict and rules, the message the case, call and evidence.
 * - Under the regression gate (`regress`): one `::error` per failing transition (see
 *   {@link regressLines}); findings of cases that are as recorded are not annotated.
 *
 * Trace text is visible text (line breaks and control characters as `\n`, `\xNN`..., `##[`
 * broken; see escape.ts), names are cut to 200 code points and the message to
 * {@link MAX_ANNOTATION_MESSAGE}, each cut marked with `…` and a SHA-256 prefix; matched values
 * are shortened or, with `redact`, replaced by a SHA-256 prefix.
 */
export function renderAnnotations(
  report: Report,
  options: { redact?: boolean; regress?: RegressGate } = {},
): string {
  if (options.regress) {
    const { lines, total } = regressLines(report, options.regress);
    if (total > MAX_ANNOTATIONS)
      lines.push(`::notice::and ${count(total - MAX_ANNOTATIONS, "more regression")} in regress.json`);
    return lines.map((l) => `${l}\n`).join("");
  }
  const redact = options.redact === true;
  const findings = findingsBySeverity(report);
  const waived = waivedIndex(report);
  const lines: string[] = [];
  for (let k = 0; k < Math.min(findings.length, MAX_ANNOTATIONS); k++) {
    const { trace, decision: d } = findings.at(k);
    // A waived call never fails the gate: a warning that names its waivers.
    const waiver = waiverOf(waived, d);
    const command = !waiver && atLeast(d.verdict, report.fail_on) ? "error" : "warning";
    const title = publicName(
      `proof: ${d.verdict} by ${d.rules.join(" ")}${waiver ? ` (${waivedLabel(waiver)})` : ""}`,
    );
    const evidence = describeDecision(d, redact);
    const message = clip(
      `${publicName(trace.case_id)}: ${publicName(d.tool)} at ${publicName(d.at)}${evidence.length > 0 ? `: ${evidence.join("; ")}` : ""}`,
      MAX_ANNOTATION_MESSAGE,
    );
    lines.push(
      `::${command} file=${escapeProperty(publicName(trace.file))},title=${escapeProperty(title)}::${escapeData(message)}`,
    );
  }
  if (findings.length > MAX_ANNOTATIONS) {
    lines.push(`::notice::and ${count(findings.length - MAX_ANNOTATIONS, "more finding")} in report.json`);
  }
  return lines.map((l) => `${l}\n`).join("");
}
