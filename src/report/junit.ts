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
import { atLeast } from "../verify/decision.js";
import { clip, publicName, xmlAttr, xmlText } from "./escape.js";
import { describeDecision } from "./findings.js";
import type { Report, TraceEntry } from "./report.js";

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
function findingLines(t: TraceEntry, redact: boolean): string[] {
  const findings = t.decisions.filter((d) => d.verdict !== "allow");
  const lines = findings.slice(0, MAX_JUNIT_FINDINGS).map((d) => {
    const evidence = describeDecision(d, redact);
    return clip(
      `${d.verdict}: ${publicName(d.tool)} at ${publicName(d.at)} by ${publicName(d.rules.join(", "))}${
        evidence.length > 0 ? `: ${evidence.join("; ")}` : ""
      }`,
      MAX_JUNIT_LINE,
    );
  });
  if (findings.length > MAX_JUNIT_FINDINGS)
    lines.push(`and ${findings.length - MAX_JUNIT_FINDINGS} more findings in report.json`);
  return lines;
}

/**
 * Renders `junit.xml` (UTF-8 text): one `<testsuite>` per traces root, in the order given and named
 * as given, one `<testcase>` per case (`name` = case id, `classname` = the root, `file` = the trace
 * file), every `time="0"` because wall-clock time would break determinism. A case at or above
 * `fail_on` holds a `<failure>` whose `message` names its verdict and rules and whose text lists
 * each finding with its evidence; a case with findings below `fail_on` lists them in
 * `<system-out>`. Names are visible text cut to 200 code points; a case lists at most
 * {@link MAX_JUNIT_FINDINGS} findings of at most {@link MAX_JUNIT_LINE} code points each. Matched
 * values are shortened, or with `redact` replaced by a SHA-256 prefix. XML-invalid code points
 * (only possible in text we did not make visible) become U+FFFD.
 * @param roots the traces roots as given on the command line, `/`-separated.
 * @param rootOf index into `roots` of each case id; a case without one goes to the first root.
 */
export function renderJunit(
  report: Report,
  roots: readonly string[],
  rootOf: ReadonlyMap<string, number>,
  options: { redact?: boolean } = {},
): string {
  const redact = options.redact === true;
  const byRoot: TraceEntry[][] = roots.map(() => []);
  for (const t of report.traces) byRoot[rootOf.get(t.case_id) ?? 0]?.push(t);
  let tests = 0;
  let failures = 0;
  const suites = roots.flatMap((root, i) => {
    const cases = byRoot[i] ?? [];
    const name = publicName(root);
    let failed = 0;
    const children = cases.flatMap((t) => {
      const lines = findingLines(t, redact);
      const attrs: [string, string][] = [
        ["classname", name],
        ["name", publicName(t.case_id)],
        ["file", publicName(t.file)],
        ["time", "0"],
      ];
      if (atLeast(t.verdict, report.fail_on)) {
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
      if (lines.length > 0) {
        const out = element("      ", "system-out", [], { text: lines.join("\n") });
        return element("    ", "testcase", attrs, { children: out });
      }
      return element("    ", "testcase", attrs);
    });
    tests += cases.length;
    failures += failed;
    return element(
      "  ",
      "testsuite",
      [
        ["name", name],
        ["time", 0],
        ["tests", cases.length],
        ["failures", failed],
        ["errors", 0],
        ["skipped", 0],
      ],
      { children },
    );
  });
  const root = element(
    "",
    "testsuites",
    [
      ["name", "proof verify"],
      ["tests", tests],
      ["failures", failures],
      ["errors", 0],
      ["skipped", 0],
    ],
    { children: suites },
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n${root.join("\n")}\n`;
}
