/**
 * `annotations.txt`: GitHub Actions workflow commands (`::error file=F,title=T::MESSAGE`, see
 * GitHub's "Workflow commands for GitHub Actions", setting an error/warning message) for the
 * most important findings, which the action prints inside `::stop-commands::` guards so that
 * nothing else in the log can issue commands. Every property and message is escaped as the
 * Actions runner unescapes it (`@actions/core`'s `escapeData`/`escapeProperty`), and trace text
 * is made visible first (no line break or control character survives), so it can neither end the
 * line nor start a command of its own.
 */
import { clip, publicName } from "./escape.js";
import { describeDecision, findingsBySeverity } from "./findings.js";
import type { Report } from "./report.js";

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

/**
 * Renders `annotations.txt`: one `::error` (block) or `::warning` (other verdicts) line per
 * finding, most restrictive first, at most {@link MAX_ANNOTATIONS}, then `::notice::and N more
 * findings in report.json` when there are more; an empty file when there are none. `file` is the
 * trace file, `title` the verdict and rules, the message the case, call and evidence. Trace text
 * is visible text (line breaks and control characters as `\n`, `\xNN`..., `##[` broken; see
 * escape.ts), names are cut to 200 code points and the message to
 * {@link MAX_ANNOTATION_MESSAGE}, each cut marked with `…` and a SHA-256 prefix; matched values
 * are shortened or, with `redact`, replaced by a SHA-256 prefix. Lines end with `\n`.
 */
export function renderAnnotations(report: Report, options: { redact?: boolean } = {}): string {
  const redact = options.redact === true;
  const findings = findingsBySeverity(report);
  const lines = findings.slice(0, MAX_ANNOTATIONS).map(({ trace, decision: d }) => {
    const command = d.verdict === "block" ? "error" : "warning";
    const title = publicName(`proof: ${d.verdict} by ${d.rules.join(" ")}`);
    const evidence = describeDecision(d, redact);
    const message = clip(
      `${publicName(trace.case_id)}: ${publicName(d.tool)} at ${publicName(d.at)}${evidence.length > 0 ? `: ${evidence.join("; ")}` : ""}`,
      MAX_ANNOTATION_MESSAGE,
    );
    return `::${command} file=${escapeProperty(publicName(trace.file))},title=${escapeProperty(title)}::${escapeData(message)}`;
  });
  if (findings.length > MAX_ANNOTATIONS) {
    lines.push(`::notice::and ${findings.length - MAX_ANNOTATIONS} more findings in report.json`);
  }
  return lines.map((l) => `${l}\n`).join("");
}
