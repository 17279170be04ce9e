import { Chalk } from "chalk";
import { publicName, terminalText } from "./escape.js";
import { type Report, reportEntries, type TraceEntry } from "./report.js";
import { count } from "./text.js";
import { expiredLines, traceWaivers, waivedIndex, waivedLabel } from "./waived.js";

/** Most trace rows printed to a terminal; the report has all of them. */
export const MAX_TERMINAL_ROWS = 40;

/**
 * The readable table printed after `verify`: one row per trace that is not `allow`, then totals.
 * With `gate: false` (the regression gate decides, and prints its own verdict) the totals say
 * nothing of passing or failing. Colour only when asked (a TTY without `NO_COLOR` or `--no-color`). Case ids come from the
 * agent's world: they are cut to 200 code points and shown escaped ({@link terminalText}), so a
 * case id can neither move the cursor nor issue a CI workflow command (`::cmd::`, `##[cmd]`).
 */
export function renderTable(report: Report, color: boolean, options: { gate?: boolean } = {}): string {
  const c = new Chalk({ level: color ? 1 : 0 });
  const paint: Record<string, (s: string) => string> = {
    allow: c.green,
    warn: c.yellow,
    require_approval: c.magenta,
    block: c.red,
  };
  // The first rows are kept, the rest only counted: a spilled report is read one entry at a time.
  const rows: TraceEntry[] = [];
  let nonAllow = 0;
  for (const t of reportEntries(report)) {
    if (t.verdict === "allow") continue;
    if (nonAllow++ < MAX_TERMINAL_ROWS) rows.push(t);
  }
  const lines: string[] = [];
  const width = Math.max(7, ...rows.map((t) => t.verdict.length));
  const waived = waivedIndex(report);
  for (const t of rows) {
    const verdict = (paint[t.verdict] ?? String)(t.verdict.padEnd(width));
    const ids = traceWaivers(t, waived);
    const note = ids.length > 0 ? `  ${c.cyan(terminalText(publicName(waivedLabel({ waivers: ids }))))}` : "";
    lines.push(
      `${verdict}  ${terminalText(publicName(t.case_id))}  ${c.dim(terminalText(publicName(t.rules.join(", "))))}${note}`,
    );
  }
  if (nonAllow > MAX_TERMINAL_ROWS)
    lines.push(c.dim(`... and ${nonAllow - MAX_TERMINAL_ROWS} more in report.json`));
  const s = report.summary;
  const counts = Object.entries(s.verdicts)
    .map(([v, n]) => `${n} ${v}`)
    .join(", ");
  const w = report.waivers;
  // Under every gate: an expired waiver fails the run even when the regression gate passes.
  for (const line of w ? expiredLines(w) : []) lines.push(c.red(terminalText(line)));
  const waiverNote = w
    ? ` ${count(w.waived.length, "call")} waived${w.expired.length > 0 ? `, ${count(w.expired.length, "waiver")} expired` : ""}${w.stale.length > 0 ? `, ${w.stale.length} stale` : ""}.`
    : "";
  const totals = `${count(s.traces, "trace")}, ${count(s.tool_calls, "tool call")}: ${counts}.${waiverNote}`;
  if (options.gate === false) lines.push(totals);
  else {
    const expired = w?.expired.length ?? 0;
    const cov = report.coverage;
    const why = [
      ...(s.failed > 0 || expired === 0 ? [`${s.failed} at or above ${report.fail_on}`] : []),
      ...(expired > 0
        ? [
            `${count(expired, "expired waiver")}: ${w?.expired.map((e) => `${e.id} (${e.expires})`).join(", ")}`,
          ]
        : []),
    ].join("; ");
    const status = !report.passed
      ? c.red(`failed (${terminalText(why)})`)
      : cov?.passed === false
        ? c.red(`failed (coverage ${cov.outcomes.percent}% below the minimum ${cov.min_percent}%)`)
        : c.green("passed");
    lines.push(`${totals} Gate ${status}.`);
  }
  return `${lines.join("\n")}\n`;
}
