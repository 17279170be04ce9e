/**
 * Public artifacts stay bounded whatever the traces hold: summary.md under GitHub's 1 MiB step
 * summary limit (with the regress section before it), annotations few and short. Long names are
 * cut with a SHA-256 prefix, so two that share a long prefix stay distinguishable.
 */
import { describe, expect, it } from "vitest";
import type { RegressResult, Transition } from "../../src/regress/compare.js";
import { MAX_ANNOTATION_MESSAGE, MAX_ANNOTATIONS, renderAnnotations } from "../../src/report/annotations.js";
import { MAX_SUMMARY_ROWS, MAX_SUMMARY_SECTION_BYTES, renderSummary } from "../../src/report/markdown.js";
import { renderRegressMarkdown } from "../../src/report/regress.js";
import type { Report } from "../../src/report/report.js";
import { decision, syntheticReport } from "./helpers.js";

const MIB = 1024 * 1024;

/** Text that grows the most once escaped for markdown (entities) or encoded (4-byte UTF-8). */
const WIDE = `"<&$😀|\\\u0001`.repeat(2000);

/** A report of `traces` traces with `calls` findings each, every name `WIDE`-long and distinct. */
function hugeReport(traces: number, calls: number): Report {
  const report = syntheticReport(
    Array.from({ length: traces }, (_, t) => ({
      case_id: `${WIDE}${t}`,
      file: `${WIDE}${t}`,
      decisions: Array.from({ length: calls }, (_, i) => ({
        ...decision(i, "block", `r${"x".repeat(300)}`, WIDE, `${WIDE}${i}`),
        at: `${WIDE}${i}`,
      })),
    })),
  );
  report.policies = Array.from({ length: 500 }, (_, i) => ({
    policy_id: `${WIDE}${i}`,
    policy_digest: `sha256:${"1".repeat(64)}`,
  }));
  return report;
}

describe("summary.md", () => {
  it("stays under its byte budget and counts the findings it leaves out", () => {
    const report = hugeReport(1000, 100);
    const text = renderSummary(report);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_SUMMARY_SECTION_BYTES);
    const lines = text.split("\n");
    const rows = lines
      .slice(lines.indexOf("| --- | --- | --- | --- | --- |") + 1)
      .filter((l) => l.startsWith("| "));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThanOrEqual(MAX_SUMMARY_ROWS);
    expect(text).toContain(`\nand ${100_000 - rows.length} more findings in report.json.\n`);
    expect(text).toContain("- and 480 more in report.json");
  });

  it("with the regress section before it, stays under GitHub's 1 MiB", () => {
    const report = hugeReport(300, 10);
    const transitions: Transition[] = report.traces.map((t) => ({
      case_id: t.case_id,
      kind: "changed",
      before: { verdict: "block", rules: [`a${WIDE}`], trace_id: t.trace_id },
      after: { verdict: "block", rules: [`b${WIDE}`], trace_id: t.trace_id },
      changes: ["rules"],
      fails: false,
    }));
    const side = { policies: report.policies, bundle_digest: report.bundle_digest };
    const regress = {
      schema: "proof.regress/v1",
      passed: true,
      fail_on: "block",
      fail_on_regression: "any",
      allow_missing: false,
      policy_change: { baseline: side, current: side, impact: transitions },
      context_change: null,
      summary: {
        cases: 300,
        unchanged: 0,
        loosened: 0,
        tightened: 0,
        changed: 300,
        missing: 0,
        new: 0,
        failed: 0,
      },
      transitions,
    } as unknown as RegressResult;
    const section = renderRegressMarkdown(regress);
    expect(Buffer.byteLength(section)).toBeLessThanOrEqual(MAX_SUMMARY_SECTION_BYTES);
    expect(section).toMatch(/\nand \d+ more transitions in regress\.json\.\n/);
    expect(Buffer.byteLength(`${section}\n${renderSummary(report)}`)).toBeLessThan(MIB);
  });

  it("keeps two long case ids that share a prefix apart", () => {
    const prefix = "p".repeat(1000);
    const report = syntheticReport([
      { case_id: `${prefix}a`, file: "a", decisions: [decision(1, "block", "r", "v")] },
      { case_id: `${prefix}b`, file: "b", decisions: [decision(1, "block", "r", "v")] },
    ]);
    const cells = renderSummary(report)
      .split("\n")
      .filter((l) => l.startsWith("| ⛔ block | p"))
      .map((l) => l.split(" | ")[1]);
    expect(cells).toHaveLength(2);
    expect(cells[0]).not.toBe(cells[1]);
    // (`:` is escaped for markdown.)
    for (const cell of cells) expect(cell).toMatch(/^p{184}…sha256\\:[0-9a-f]{8}$/);
  });
});

describe("annotations.txt", () => {
  it("has at most MAX_ANNOTATIONS annotations and a count, each line short, however long the text", () => {
    const lines = renderAnnotations(hugeReport(3, 20)).split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(MAX_ANNOTATIONS + 1);
    expect(lines.at(-1)).toBe("::notice::and 50 more findings in report.json");
    for (const line of lines) {
      expect(line.includes("\n")).toBe(false);
      // Properties of 200 code points and a message of 1,024, each character at most tripled
      // by the runner's escaping or 4 bytes of UTF-8.
      expect(Buffer.byteLength(line)).toBeLessThan(4 * (2 * 3 * 200 + 3 * MAX_ANNOTATION_MESSAGE) + 64);
    }
  });
});
