/**
 * What `proof test` prints and writes: the text of `opa test` (failures, `-v` every case, then the
 * counts), the `--json` document, and `junit.xml` (the Ant/Surefire element set, escaped as the
 * gate's junit.xml is: src/report/junit.ts).
 */
import { clip, publicName, visible, xmlAttr, xmlText } from "../report/escape.js";
import type { Decision } from "../verify/decision.js";
import type { CaseOutcome } from "./run.js";

/** Most decisions listed under a failing case; the rest are counted. */
export const MAX_LISTED_DECISIONS = 20;

/** Longest line of a failure, in code points. */
const MAX_LINE = 1024;

/** The counts of a run. */
export interface TestSummary {
  cases: number;
  passed: number;
  failed: number;
}

/** Counts passing and failing cases. */
export function summarise(outcomes: readonly CaseOutcome[]): TestSummary {
  const passed = outcomes.filter((o) => o.passed).length;
  return { cases: outcomes.length, passed, failed: outcomes.length - passed };
}

/** One decision as a line: `seq 3 send_money: block by a, b (reasons x, y)`. */
function decisionLine(d: Decision): string {
  const by = d.rules.length > 0 ? ` by ${d.rules.join(", ")} (reasons ${d.reasons.join(", ")})` : "";
  const errors = d.errors.map((e) => `; error in ${e.rule}: ${e.message}`).join("");
  return clip(visible(`seq ${d.seq} ${publicName(d.tool)}: ${d.verdict}${by}${errors}`), MAX_LINE);
}

/** The decisions shown under a failing case: those a rule matched (or that erred), bounded. */
function decisionLines(o: CaseOutcome): string[] {
  const shown = o.decisions.filter((d) => d.rules.length > 0 || d.errors.length > 0);
  if (shown.length === 0) return [`no rule matched (${o.decisions.length} tool calls, all allowed)`];
  const lines = shown.slice(0, MAX_LISTED_DECISIONS).map(decisionLine);
  if (shown.length > MAX_LISTED_DECISIONS) lines.push(`and ${shown.length - MAX_LISTED_DECISIONS} more`);
  return lines;
}

/** `file:line:column: name` of a case, visible (a name may hold any text). */
function caseLabel(o: CaseOutcome): string {
  return visible(`${o.file}:${o.line}:${o.column}: ${o.name}`);
}

/**
 * The text of a run: each failing case (every case with `verbose`) as `FAIL file:line:col: name`
 * with its unmet expectations and the decisions with their reasons, then `PASS: n/N` and, when
 * any failed, `FAIL: n/N`.
 */
export function renderText(outcomes: readonly CaseOutcome[], verbose: boolean): string {
  const lines: string[] = [];
  for (const o of outcomes) {
    if (o.passed) {
      if (verbose) lines.push(`PASS ${caseLabel(o)}`);
      continue;
    }
    lines.push(`FAIL ${caseLabel(o)}`);
    for (const f of o.failures) lines.push(`  ${clip(visible(f), MAX_LINE)}`);
    lines.push("  decisions:");
    for (const d of decisionLines(o)) lines.push(`    ${d}`);
  }
  const s = summarise(outcomes);
  if (lines.length > 0) lines.push("-".repeat(80));
  lines.push(`PASS: ${s.passed}/${s.cases}`);
  if (s.failed > 0) lines.push(`FAIL: ${s.failed}/${s.cases}`);
  return `${lines.join("\n")}\n`;
}

/** The `--json` document (`proof.test-results/v1`): counts, then every case with its decisions. */
export function renderJson(outcomes: readonly CaseOutcome[]): unknown {
  return {
    schema: "proof.test-results/v1",
    summary: summarise(outcomes),
    cases: outcomes.map((o) => ({
      file: o.file,
      line: o.line,
      column: o.column,
      name: o.name,
      passed: o.passed,
      failures: o.failures,
      verdict: o.verdict,
      rules: o.rules,
      decisions: o.decisions.map((d) => ({
        seq: d.seq,
        tool: d.tool,
        verdict: d.verdict,
        rules: d.rules,
        reasons: d.reasons,
        evidence: d.evidence,
        errors: d.errors,
      })),
    })),
  };
}

/** `junit.xml`: one `testsuite` per test file, one `testcase` per case, a `failure` per failing one. */
export function renderJunit(outcomes: readonly CaseOutcome[]): string {
  const files = [...new Set(outcomes.map((o) => o.file))];
  const s = summarise(outcomes);
  const attr = (pairs: [string, string | number][]) =>
    pairs.map(([k, v]) => ` ${k}="${xmlAttr(visible(String(v)))}"`).join("");
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attr([
      ["name", "proof test"],
      ["tests", s.cases],
      ["failures", s.failed],
      ["errors", 0],
    ])}>`,
  ];
  for (const file of files) {
    const cases = outcomes.filter((o) => o.file === file);
    const failed = cases.filter((o) => !o.passed).length;
    out.push(
      `  <testsuite${attr([
        ["name", file],
        ["tests", cases.length],
        ["failures", failed],
        ["errors", 0],
      ])}>`,
    );
    for (const o of cases) {
      const head = `    <testcase${attr([
        ["name", o.name],
        ["classname", file],
        ["file", file],
        ["line", o.line],
      ])}`;
      if (o.passed) {
        out.push(`${head}/>`);
        continue;
      }
      const text = [
        ...o.failures.map((f) => clip(visible(f), MAX_LINE)),
        "decisions:",
        ...decisionLines(o),
      ].join("\n");
      out.push(`${head}>`);
      out.push(`      <failure${attr([["message", o.failures[0] ?? "failed"]])}>${xmlText(text)}</failure>`);
      out.push("    </testcase>");
    }
    out.push("  </testsuite>");
  }
  out.push("</testsuites>");
  return `${out.join("\n")}\n`;
}
