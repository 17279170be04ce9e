/**
 * Renderings of a regression comparison (`proof.regress/v1`): the section `proof regress` puts
 * before the verify summary in `summary.md`, and the lines it prints to a terminal. Case ids come
 * from trace file names, which the agent's world may choose: they are escaped for each medium.
 */
import { Chalk } from "chalk";
import type { Verdict } from "../policy/ir.js";
import type { CaseState, RegressResult, Transition, TrialsSummary } from "../regress/compare.js";
import { atLeast } from "../verify/decision.js";
import { code, escapeMarkdown, publicName, takeWithin, terminalText, visible } from "./escape.js";
import type { RegressGate } from "./gate.js";
import { MAX_SUMMARY_POLICIES, MAX_SUMMARY_ROWS, SUMMARY_ROWS_BYTES } from "./markdown.js";
import { MAX_TERMINAL_ROWS } from "./terminal.js";
import { count } from "./text.js";

/** Transition kinds in the order they are listed: what fails first, what is informative last. */
const KIND_ORDER = ["loosened", "tightened", "missing", "new", "changed"] as const;

/** Transitions ordered for display: by kind (see {@link KIND_ORDER}), then case id. */
function ordered(transitions: readonly Transition[]): Transition[] {
  return [...transitions].sort(
    (a, b) =>
      KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
      (a.case_id < b.case_id ? -1 : a.case_id > b.case_id ? 1 : 0),
  );
}

/** Passing trials of one side, `c/n` (an ordinary case is one trial), `-` when it does not exist. */
function passedOf(s: CaseState | null, failOn: Verdict): string {
  if (!s) return "-";
  return s.trials ? `${s.trials.passed}/${s.trials.n}` : `${atLeast(s.verdict, failOn) ? 0 : 1}/1`;
}

/**
 * `before -> after` of a transition, `-` for the side that does not exist; for a case with trials
 * on either side, the passing trials (`3/4 -> 2/4 passed`), which is what decides it.
 */
function arrow(t: Transition, failOn: Verdict): string {
  if (t.before?.trials || t.after?.trials)
    return `${passedOf(t.before, failOn)} -> ${passedOf(t.after, failOn)} passed`;
  return `${t.before?.verdict ?? "-"} -> ${t.after?.verdict ?? "-"}`;
}

/** pass^k values shown in a summary or a terminal; regress.json has them all. */
const MAX_SHOWN_K = 8;

/** A pass^k estimate with three decimals, `-` when no case has k trials. */
const rate = (x: number | null): string => (x === null ? "-" : x.toFixed(3));

/**
 * The sentence on trials: how many cases have several, the tolerance, and pass^k on both sides for
 * k up to {@link MAX_SHOWN_K}.
 */
function trialsLine(t: TrialsSummary, failOn: Verdict): string {
  const ks = t.pass_hat_k
    .slice(0, MAX_SHOWN_K)
    .map((p) => `pass^${p.k} ${rate(p.baseline)} -> ${rate(p.current)}`)
    .join(", ");
  const more = t.pass_hat_k.length > MAX_SHOWN_K ? ` (to k = ${t.pass_hat_k.length} in regress.json)` : "";
  return `Trials: ${count(t.current_cases, "case")} with several trials (${t.baseline_cases} in the baseline); a pass rate may move by ${t.tolerance}; a trial passes below ${failOn}; ${ks}${more}.`;
}

/** What a transition's row says beyond the verdicts: rules gained and lost, what changed. */
function detail(t: Transition): string {
  const before = t.before?.rules ?? [];
  const after = t.after?.rules ?? [];
  const parts: string[] = [];
  const added = after.filter((r) => !before.includes(r));
  const removed = before.filter((r) => !after.includes(r));
  if (added.length > 0) parts.push(`+${added.join(", +")}`);
  if (removed.length > 0) parts.push(`-${removed.join(", -")}`);
  if (t.kind === "changed" && !t.changes.includes("rules")) parts.push(`${t.changes.join(", ")} changed`);
  return parts.join(" ");
}

/** One-sentence counts of a comparison. */
function counts(r: RegressResult): string {
  const s = r.summary;
  return `${count(s.cases, "case")}: ${s.unchanged} unchanged, ${s.loosened} loosened, ${s.tightened} tightened, ${s.changed} changed, ${s.missing} missing, ${s.new} new`;
}

/**
 * The markdown section of a comparison, for `summary.md`: a policy change and its impact first,
 * then every transition: at most {@link MAX_SUMMARY_ROWS} rows and {@link MAX_SUMMARY_POLICIES}
 * policies per side, rows stopping before the section would exceed `MAX_SUMMARY_SECTION_BYTES`
 * (regress.json has all). Case ids are made visible, cut to 200 code points and escaped. When the
 * gate failed and `gate` is given, a last paragraph gives the `proof regress accept` command that
 * records an intended change, and the baseline file to commit.
 */
export function renderRegressMarkdown(r: RegressResult, gate?: RegressGate): string {
  const out: string[] = [];
  out.push(`## proof regress: ${r.passed ? "passed" : "failed"}`);
  out.push("");
  if (r.policy_change) {
    const pc = r.policy_change;
    out.push(
      `**The policy changed since the baseline** (bundle ${code(pc.baseline.bundle_digest)} -> ${code(pc.current.bundle_digest)}): ${count(pc.impact.length, "verdict transition")}.`,
    );
    out.push("");
    for (const [side, policies] of [
      ["baseline", pc.baseline.policies],
      ["current", pc.current.policies],
    ] as const) {
      for (const p of policies.slice(0, MAX_SUMMARY_POLICIES))
        out.push(`- ${side}: ${escapeMarkdown(publicName(p.policy_id))} ${code(p.policy_digest)}`);
      if (policies.length > MAX_SUMMARY_POLICIES)
        out.push(`- ${side}: and ${policies.length - MAX_SUMMARY_POLICIES} more in regress.json`);
    }
    out.push("");
  }
  if (r.context_change) {
    out.push(
      `The context changed since the baseline: ${code(r.context_change.baseline ?? "none")} -> ${code(r.context_change.current ?? "none")}.`,
    );
    out.push("");
  }
  out.push(
    `${counts(r)}; ${r.summary.failed} ${r.summary.failed === 1 ? "fails" : "fail"} the gate (${code(`--fail-on-regression ${r.fail_on_regression}`)}${r.allow_missing ? `, ${code("--allow-missing")}` : ""}, new cases at or above ${code(r.fail_on)}).`,
  );
  out.push("");
  if (r.trials) {
    // Only numbers and verdict names: nothing here comes from a trace, so nothing to escape.
    out.push(trialsLine(r.trials, r.fail_on));
    out.push("");
  }
  if (r.transitions.length === 0) {
    out.push("Every case is as recorded.");
  } else {
    out.push("| | transition | case | verdict | rules |");
    out.push("| --- | --- | --- | --- | --- |");
    const rows = ordered(r.transitions);
    const shown = takeWithin(
      rows.length,
      (i) => {
        const t = rows[i] as Transition;
        return `| ${t.fails ? "❌" : "ℹ️"} | ${t.kind} | ${escapeMarkdown(publicName(t.case_id))} | ${arrow(t, r.fail_on)} | ${escapeMarkdown(publicName(detail(t)))} |`;
      },
      MAX_SUMMARY_ROWS,
      SUMMARY_ROWS_BYTES,
    );
    out.push(...shown);
    if (rows.length > shown.length) {
      out.push("");
      out.push(`and ${count(rows.length - shown.length, "more transition")} in regress.json.`);
    }
  }
  if (!r.passed && gate) {
    // A fenced block shows the command as it is to be pasted; visible and terminal-safe first,
    // so a path cannot end the block early or carry a workflow command.
    const command = terminalText(visible(gate.accept));
    const fence = "`".repeat(Math.max(3, ...[...command.matchAll(/`+/g)].map((m) => m[0].length + 1)));
    out.push("");
    out.push("### How to fix");
    out.push("");
    out.push(
      `If the change is intended, record the current verdicts and commit ${escapeMarkdown(terminalText(visible(gate.baseline)))}:`,
    );
    out.push("");
    out.push(`${fence}sh`);
    out.push(command);
    out.push(fence);
    out.push("");
    out.push(
      "Otherwise fix the policy or the agent until each failing case has its recorded verdict again (docs/baselines.md).",
    );
  }
  out.push("");
  return out.join("\n");
}

/**
 * The terminal lines of a comparison, printed before the verify table: the policy change and its
 * impact first, then the transitions (bounded to {@link MAX_TERMINAL_ROWS}; regress.json has all).
 * Case ids are cut to 200 code points and shown escaped (`terminalText`), so a file name can
 * neither move the cursor nor issue a CI workflow command.
 */
export function renderRegressTerminal(r: RegressResult, color: boolean): string {
  const c = new Chalk({ level: color ? 1 : 0 });
  const lines: string[] = [];
  if (r.policy_change) {
    const pc = r.policy_change;
    lines.push(
      c.bold(
        `Policy changed since the baseline (bundle ${pc.baseline.bundle_digest} -> ${pc.current.bundle_digest}): ${count(pc.impact.length, "verdict transition")}.`,
      ),
    );
  }
  if (r.context_change) {
    lines.push(
      `Context changed since the baseline: ${r.context_change.baseline ?? "none"} -> ${r.context_change.current ?? "none"}.`,
    );
  }
  const rows = ordered(r.transitions);
  const width = Math.max(9, ...rows.slice(0, MAX_TERMINAL_ROWS).map((t) => t.kind.length));
  for (const t of rows.slice(0, MAX_TERMINAL_ROWS)) {
    const kind = t.kind.padEnd(width);
    lines.push(
      `${t.fails ? c.red(kind) : c.dim(kind)}  ${terminalText(publicName(t.case_id))}  ${arrow(t, r.fail_on)}  ${c.dim(terminalText(publicName(detail(t))))}`.trimEnd(),
    );
  }
  if (rows.length > MAX_TERMINAL_ROWS)
    lines.push(c.dim(`... and ${count(rows.length - MAX_TERMINAL_ROWS, "more transition")} in regress.json`));
  lines.push(`${counts(r)}.`);
  if (r.trials) lines.push(trialsLine(r.trials, r.fail_on));
  return `${lines.join("\n")}\n`;
}

/**
 * The last lines of `proof regress run`: the gate's verdict, which decides the exit code, and when
 * it failed and `gate` is given, the `proof regress accept` command that records an intended
 * change and the baseline file to commit (terminal-safe: paths come from the command line).
 */
export function renderRegressVerdict(r: RegressResult, color: boolean, gate?: RegressGate): string {
  const c = new Chalk({ level: color ? 1 : 0 });
  if (r.passed) return `Regression gate ${c.green("passed")}.\n`;
  const lines = [`Regression gate ${c.red(`failed (${count(r.summary.failed, "failing case")})`)}.`];
  if (gate) {
    lines.push(
      `If the change is intended, record the current verdicts and commit ${terminalText(visible(gate.baseline))}:`,
    );
    lines.push(`  ${terminalText(visible(gate.accept))}`);
  }
  return `${lines.join("\n")}\n`;
}
