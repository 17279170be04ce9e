/**
 * `junit.xml`: the gate's result as a JUnit XML report, the de-facto format of CI test report
 * views (Jenkins JUnit plugin, GitLab `artifacts:reports:junit`, CircleCI `store_test_results`;
 * no formal standard: the Ant/Surefire element set `testsuites > testsuite > testcase > failure`).
 * Built with `junit-report-builder`, which escapes attribute and text content, drops characters
 * XML 1.0 cannot hold and splits `]]>` inside CDATA.
 */
import junitModule, { type Builder } from "junit-report-builder";
import { atLeast } from "../verify/decision.js";
import { describeDecision } from "./findings.js";
import type { Report, TraceEntry } from "./report.js";

// The package's CommonJS entry is `module.exports = builder` and its ES entry `export default
// builder`, so the default import is the builder at run time; its declarations (an `export
// default` in a CommonJS package) make TypeScript under NodeNext see a wrapper object instead.
const junit = junitModule as unknown as Builder;

/**
 * Renders `junit.xml` (UTF-8 text): one `<testsuite>` per traces root, in the order given and named
 * as given, one `<testcase>` per case (`name` = case id, `classname` = the root, `file` = the trace
 * file), every `time="0"` because wall-clock time would break determinism. A case at or above
 * `fail_on` holds a `<failure>` whose `message` names its verdict and rules and whose text lists
 * each finding with its evidence; a case with findings below `fail_on` lists them in
 * `<system-out>`. Matched values are shortened, or with `redact` replaced by a SHA-256 prefix.
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
  const builder = junit.newBuilder().name("proof verify");
  const byRoot: TraceEntry[][] = roots.map(() => []);
  for (const t of report.traces) byRoot[rootOf.get(t.case_id) ?? 0]?.push(t);
  roots.forEach((root, i) => {
    const suite = builder.testSuite().name(root).time(0);
    for (const t of byRoot[i] ?? []) {
      const test = suite.testCase().className(root).name(t.case_id).file(t.file).time(0);
      const lines = t.decisions
        .filter((d) => d.verdict !== "allow")
        .map((d) => {
          const evidence = describeDecision(d, redact);
          return `${d.verdict}: ${d.tool} at ${d.at} by ${d.rules.join(", ")}${
            evidence.length > 0 ? `: ${evidence.join("; ")}` : ""
          }`;
        });
      if (atLeast(t.verdict, report.fail_on)) {
        test
          .failure(t.rules.length > 0 ? `${t.verdict} by ${t.rules.join(", ")}` : t.verdict, t.verdict)
          .stacktrace(lines.join("\n"));
      } else if (lines.length > 0) {
        test.standardOutput(lines.join("\n"));
      }
    }
  });
  return `${builder.build()}\n`;
}
