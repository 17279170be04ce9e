/**
 * `junit.xml`: the gate's result as a JUnit XML report, the de-facto format of CI test report
 * views (Jenkins JUnit plugin, GitLab `artifacts:reports:junit`, CircleCI `store_test_results`;
 * no formal standard: the Ant/Surefire element set `testsuites > testsuite > testcase > failure`).
 *
 * Written here rather than with `junit-report-builder`: its XML layer (`xmlbuilder`) splits only
 * the first `]]>` of a CDATA section, so a second one in trace text ended the section and let the
 * text add elements, and it drops the character before a lone low surrogate. Element content is
 * escaped text (no CDATA), attributes escape line breaks as character references, and every
 * piece of trace text is in its visible form first (escape.ts), so what a reader parses back is
 * exactly what was written.
 */
import type { Transition } from "../regress/compare.js";
import { clip, publicName, visible, xmlAttr, xmlText } from "./escape.js";
import { describeDecision } from "./findings.js";
import { acceptHint, type RegressGate, transitionSentence, transitionsByCase, verdictArrow } from "./gate.js";
import { type Report, reportEntries, type TraceEntry } from "./report.js";
import { count } from "./text.js";
import {
  traceFails,
  traceWaived,
  traceWaivers,
  type WaivedIndex,
  waivedIndex,
  waivedLabel,
  waiverOf,
} from "./waived.js";

/** Most findings listed in one test case's failure or output text; the rest are counted. */
export const MAX_JUNIT_FINDINGS = 100;

/** Longest line of a test case's failure or output text, in code points. */
export const MAX_JUNIT_LINE = 1024;

/** One element: name, attributes in order, and either children lines, text, or nothing. */
function element(
  indent: string,
  name: string,
  attrs: [string, string | number][],
  body?: { text: string } | { children: string[] },
): string[] {
  const open = `${indent}<${name}${attrs.map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`).join("")}`;
  if (body === undefined || ("children" in body && body.children.length === 0)) return [`${open}/>`];
  if ("text" in body) return [`${open}>${xmlText(body.text)}</${name}>`];
  return [`${open}>`, ...body.children, `${indent}</${name}>`];
}

/** The failure or output text of a case: one visible line per finding, bounded. */
function findingLines(t: TraceEntry, redact: boolean, waived: WaivedIndex): string[] {
  const findings = t.decisions.filter((d) => d.verdict !== "allow");
  const lines = findings.slice(0, MAX_JUNIT_FINDINGS).map((d) => {
    const evidence = describeDecision(d, redact);
    const waiver = waiverOf(waived, d);
    return clip(
      `${d.verdict}${waiver ? ` (${waivedLabel(waiver)})` : ""}: ${publicName(d.tool)} at ${publicName(d.at)} by ${publicName(d.rules.join(", "))}${
        evidence.length > 0 ? `: ${evidence.join("; ")}` : ""
      }`,
      MAX_JUNIT_LINE,
    );
  });
  if (findings.length > MAX_JUNIT_FINDINGS)
    lines.push(`and ${count(findings.length - MAX_JUNIT_FINDINGS, "more finding")} in report.json`);
  return lines;
}

/** `<properties>` of a test case under the regression gate: current and expected verdict. */
function regressProperties(t: Transition | undefined, verdict: string | null): string[] {
  const expected = t ? (t.before?.verdict ?? "none (new case)") : verdict;
  const props: [string, string][] = [
    ["verdict", verdict ?? "none (missing)"],
    ["expected_verdict", expected ?? "none"],
    ["transition", t?.kind ?? "unchanged"],
  ];
  return element("      ", "properties", [], {
    children: props.flatMap(([name, value]) =>
      element("        ", "property", [
        ["name", name],
        ["value", value],
      ]),
    ),
  });
}

/** The failure of a case that fails the regression gate: what changed, its findings, the fix. */
function regressFailure(t: Transition, lines: string[], gate: RegressGate): string[] {
  const text = [
    `${t.kind} (${verdictArrow(t)}): ${transitionSentence(t)} ${visible(gate.baseline)}.`,
    ...lines,
    visible(acceptHint(gate)),
  ];
  return element(
    "      ",
    "failure",
    [
      ["message", `${t.kind}: ${verdictArrow(t)}`],
      ["type", t.kind],
    ],
    { text: text.join("\n") },
  );
}

/**
 * Renders `junit.xml` (UTF-8 text): one `<testsuite>` per traces root, in the order given and named
 * as given, one `<testcase>` per case (`name` = case id, `classname` = the root, `file` = the trace
 * file), every `time="0"` because wall-clock time would break determinism. A case that fails the
 * gate holds a `<failure>`; a case with findings that passes lists them in `<system-out>`.
 *
 * - Under `proof verify` (no `regress`), a case fails when its verdict is at or above `fail_on`:
 *   the failure's `message` names its verdict and rules, its text lists each finding with its
 *   evidence.
 * - Under the regression gate, a case fails exactly when its transition fails (gate.ts): the
 *   message is `KIND: BEFORE -> AFTER`, the text says what changed, lists the findings and ends
 *   with the `proof regress accept` command. Every test case carries `<properties>` `verdict`,
 *   `expected_verdict` (the baseline's) and `transition` (`unchanged` when as recorded). A case
 *   missing from the traces is a test case of the first suite whose `file` is the baseline: a
 *   failure, or `<skipped>` under `--allow-missing`.
 *
 * Names are visible text cut to 200 code points; a case lists at most {@link MAX_JUNIT_FINDINGS}
 * findings of at most {@link MAX_JUNIT_LINE} code points each. Matched values are shortened, or with
 * `redact` replaced by a SHA-256 prefix. XML-invalid code points (only possible in text we did not
 * make visible) become U+FFFD.
 * @param roots the traces roots as given on the command line, `/`-separated.
 * @param rootOf index into `roots` of each case id; a case without one goes to the first root.
 */
export function renderJunit(
  report: Report,
  roots: readonly string[],
  rootOf: ReadonlyMap<string, number>,
  options: { redact?: boolean; regress?: RegressGate } = {},
): string {
  return [...junitParts(report, roots, rootOf, options)].join("");
}

/** How a test case ends: what decides its element and the suite's counters. */
type CaseKind = "regressed" | "waived" | "failed" | "passed";

/**
 * {@link renderJunit} as a sequence of strings whose concatenation is exactly its text, one line
 * at a time: the counters every `<testsuite>` and `<testsuites>` opens with are found in a first
 * pass that builds no text, so a report of many cases is written without the whole document.
 */
export function* junitParts(
  report: Report,
  roots: readonly string[],
  rootOf: ReadonlyMap<string, number>,
  options: { redact?: boolean; regress?: RegressGate } = {},
): Generator<string> {
  const redact = options.redact === true;
  const gate = options.regress;
  const transitions = gate ? transitionsByCase(gate) : new Map<string, Transition>();
  const waived = waivedIndex(report);
  // The cases of root `i`, read again for each pass: a spilled report is never held whole.
  const casesOf = function* (i: number): Generator<TraceEntry> {
    for (const t of reportEntries(report)) if ((rootOf.get(t.case_id) ?? 0) === i) yield t;
  };
  const missing = gate ? gate.result.transitions.filter((t) => t.kind === "missing") : [];
  const kindOf = (t: TraceEntry): CaseKind => {
    if (gate) return transitions.get(t.case_id)?.fails ? "regressed" : "passed";
    if (traceWaived(report, t, waived)) return "waived";
    return traceFails(report, t, waived) ? "failed" : "passed";
  };
  // First pass: the counters, in the suites' order.
  const counts = roots.map(() => ({ n: 0, failed: 0, skipped: 0 }));
  for (const t of reportEntries(report)) {
    const c = counts[rootOf.get(t.case_id) ?? 0];
    if (!c) continue;
    c.n++;
    const kind = kindOf(t);
    if (kind === "regressed" || kind === "failed") c.failed++;
    else if (kind === "waived") c.skipped++;
  }
  // The missing cases of a regression gate belong to the first suite.
  const first = counts[0];
  if (first && gate) {
    for (const t of missing) {
      first.n++;
      if (t.fails) first.failed++;
      else first.skipped++;
    }
  }
  const sum = (k: "n" | "failed" | "skipped") => counts.reduce((a, c) => a + c[k], 0);
  const caseLines = (t: TraceEntry, name: string): string[] => {
    const lines = findingLines(t, redact, waived);
    const attrs: [string, string][] = [
      ["classname", name],
      ["name", publicName(t.case_id)],
      ["file", publicName(t.file)],
      ["time", "0"],
    ];
    const transition = transitions.get(t.case_id);
    const props = gate ? regressProperties(transition, t.verdict) : [];
    const kind = kindOf(t);
    if (gate && transition && kind === "regressed") {
      return element("    ", "testcase", attrs, {
        children: [...props, ...regressFailure(transition, lines, gate)],
      });
    }
    if (kind === "waived") {
      // Passes only because of its waivers: skipped, not passed, so that a reader sees it.
      const skip = element(
        "      ",
        "skipped",
        [["message", publicName(waivedLabel({ waivers: traceWaivers(t, waived) }))]],
        lines.length > 0 ? { text: lines.join("\n") } : undefined,
      );
      return element("    ", "testcase", attrs, { children: skip });
    }
    if (kind === "failed") {
      const message = publicName(t.rules.length > 0 ? `${t.verdict} by ${t.rules.join(", ")}` : t.verdict);
      const failure = element(
        "      ",
        "failure",
        [
          ["message", message],
          ["type", t.verdict],
        ],
        lines.length > 0 ? { text: lines.join("\n") } : undefined,
      );
      return element("    ", "testcase", attrs, { children: failure });
    }
    const out = lines.length > 0 ? element("      ", "system-out", [], { text: lines.join("\n") }) : [];
    return element("    ", "testcase", attrs, { children: [...props, ...out] });
  };
  const missingLines = (t: Transition, name: string, g: RegressGate): string[] => {
    const attrs: [string, string][] = [
      ["classname", name],
      ["name", publicName(t.case_id)],
      ["file", publicName(g.baseline)],
      ["time", "0"],
    ];
    const props = regressProperties(t, null);
    if (t.fails)
      return element("    ", "testcase", attrs, { children: [...props, ...regressFailure(t, [], g)] });
    const skip = element("      ", "skipped", [
      ["message", "missing from the traces, allowed by --allow-missing"],
    ]);
    return element("    ", "testcase", attrs, { children: [...props, ...skip] });
  };
  const rootAttrs: [string, string | number][] = [
    ["name", gate ? "proof regress" : "proof verify"],
    ["tests", sum("n")],
    ["failures", sum("failed")],
    ["errors", 0],
    ["skipped", sum("skipped")],
  ];
  yield '<?xml version="1.0" encoding="UTF-8"?>\n';
  if (roots.length === 0) {
    yield `${element("", "testsuites", rootAttrs)[0]}\n`;
    return;
  }
  // Second pass: the text, one element's lines at a time (element() gives the open and close
  // lines of a container when given one child; children go between them).
  const [rootOpen, , rootClose] = element("", "testsuites", rootAttrs, { children: [""] });
  yield `${rootOpen}\n`;
  for (const [i, root] of roots.entries()) {
    const name = publicName(root);
    const c = counts[i] as { n: number; failed: number; skipped: number };
    const suiteAttrs: [string, string | number][] = [
      ["name", name],
      ["time", 0],
      ["tests", c.n],
      ["failures", c.failed],
      ["errors", 0],
      ["skipped", c.skipped],
    ];
    const hasMissing = i === 0 && gate !== undefined && missing.length > 0;
    if (c.n === 0 && !hasMissing) {
      yield `${element("  ", "testsuite", suiteAttrs)[0]}\n`;
      continue;
    }
    const [open, , close] = element("  ", "testsuite", suiteAttrs, { children: [""] });
    yield `${open}\n`;
    for (const t of casesOf(i)) for (const line of caseLines(t, name)) yield `${line}\n`;
    if (i === 0 && gate)
      for (const t of missing) for (const line of missingLines(t, name, gate)) yield `${line}\n`;
    yield `${close}\n`;
  }
  yield `${rootClose}\n`;
}
