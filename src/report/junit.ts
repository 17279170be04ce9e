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
import type { Report, TraceEntry } from "./report.js";
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
  const redact = options.redact === true;
  const gate = options.regress;
  const transitions = gate ? transitionsByCase(gate) : new Map<string, Transition>();
  const waived = waivedIndex(report);
  const byRoot: TraceEntry[][] = roots.map(() => []);
  for (const t of report.traces) byRoot[rootOf.get(t.case_id) ?? 0]?.push(t);
  const missing = gate ? gate.result.transitions.filter((t) => t.kind === "missing") : [];
  let tests = 0;
  let failures = 0;
  let skippedAll = 0;
  const suites = roots.flatMap((root, i) => {
    const cases = byRoot[i] ?? [];
    const name = publicName(root);
    let failed = 0;
    let skipped = 0;
    const children = cases.flatMap((t) => {
      const lines = findingLines(t, redact, waived);
      const attrs: [string, string][] = [
        ["classname", name],
        ["name", publicName(t.case_id)],
        ["file", publicName(t.file)],
        ["time", "0"],
      ];
      const transition = transitions.get(t.case_id);
      const props = gate ? regressProperties(transition, t.verdict) : [];
      if (gate && transition?.fails) {
        failed++;
        return element("    ", "testcase", attrs, {
          children: [...props, ...regressFailure(transition, lines, gate)],
        });
      }
      if (!gate && traceWaived(report, t, waived)) {
        // Passes only because of its waivers: skipped, not passed, so that a reader sees it.
        skipped++;
        const skip = element(
          "      ",
          "skipped",
          [["message", publicName(waivedLabel({ waivers: traceWaivers(t, waived) }))]],
          lines.length > 0 ? { text: lines.join("\n") } : undefined,
        );
        return element("    ", "testcase", attrs, { children: skip });
      }
      if (!gate && traceFails(report, t, waived)) {
        failed++;
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
    });
    let n = cases.length;
    if (i === 0 && gate) {
      for (const t of missing) {
        n++;
        const attrs: [string, string][] = [
          ["classname", name],
          ["name", publicName(t.case_id)],
          ["file", publicName(gate.baseline)],
          ["time", "0"],
        ];
        const props = regressProperties(t, null);
        if (t.fails) {
          failed++;
          children.push(
            ...element("    ", "testcase", attrs, { children: [...props, ...regressFailure(t, [], gate)] }),
          );
        } else {
          skipped++;
          const skip = element("      ", "skipped", [
            ["message", "missing from the traces, allowed by --allow-missing"],
          ]);
          children.push(...element("    ", "testcase", attrs, { children: [...props, ...skip] }));
        }
      }
    }
    tests += n;
    failures += failed;
    skippedAll += skipped;
    return element(
      "  ",
      "testsuite",
      [
        ["name", name],
        ["time", 0],
        ["tests", n],
        ["failures", failed],
        ["errors", 0],
        ["skipped", skipped],
      ],
      { children },
    );
  });
  const root = element(
    "",
    "testsuites",
    [
      ["name", gate ? "proof regress" : "proof verify"],
      ["tests", tests],
      ["failures", failures],
      ["errors", 0],
      ["skipped", skippedAll],
    ],
    { children: suites },
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n${root.join("\n")}\n`;
}
