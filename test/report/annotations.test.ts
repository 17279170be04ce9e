/** `annotations.txt`: GitHub workflow commands, escaped so that trace text cannot issue any. */
import { describe, expect, it } from "vitest";
import {
  escapeData,
  escapeProperty,
  MAX_ANNOTATIONS,
  renderAnnotations,
} from "../../src/report/annotations.js";
import { decision, syntheticReport } from "./helpers.js";

describe("annotations.txt", () => {
  it("escapes messages and properties as the Actions runner unescapes them", () => {
    expect(escapeData("100% a\r\nb: c, d")).toBe("100%25 a%0D%0Ab: c, d");
    expect(escapeProperty("100% a\r\nb: c, d")).toBe("100%25 a%0D%0Ab%3A c%2C d");
    // `%` first: an input that already looks escaped stays literal.
    expect(escapeData("%0A")).toBe("%250A");
  });

  it("annotates the 10 most restrictive findings and counts the rest in one line", () => {
    const decisions = Array.from({ length: 14 }, (_, i) =>
      decision(i, i % 2 === 0 ? "warn" : "block", i % 2 === 0 ? "r.warn" : "r.block", `value-${i}`),
    );
    const report = syntheticReport([{ case_id: "a.json", file: "t/a.json", decisions }]);
    const lines = renderAnnotations(report).split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(MAX_ANNOTATIONS + 1);
    expect(
      lines.slice(0, 7).every((l) => l.startsWith("::error file=t/a.json,title=proof%3A block by r.block::")),
    ).toBe(true);
    expect(
      lines
        .slice(7, 10)
        .every((l) => l.startsWith("::warning file=t/a.json,title=proof%3A warn by r.warn::")),
    ).toBe(true);
    expect(lines[10]).toBe("::notice::and 4 more findings in report.json");
    expect(renderAnnotations(syntheticReport([{ case_id: "b", file: "b", decisions: [] }]))).toBe("");
  });

  it("shows a hostile trace's text only inert: exact bytes of the line", () => {
    const hostile = "x\n::error::pwned\r\n::add-mask::y %0A \u001b[2J ##[z";
    const d = decision(3, "block", "r", hostile, "tool,title=evil::\u202e");
    const report = syntheticReport([
      { case_id: "c\n::warning::case", file: "dir,title=x:/a\n.json", decisions: [d] },
    ]);
    // Line breaks and control characters are shown as escapes (never a real line break in the
    // annotation), `##[` is broken, `%` and the property separators are escaped for the runner.
    expect(renderAnnotations(report)).toBe(
      "::error file=dir%2Ctitle=x%3A/a\\n.json,title=proof%3A block by r::" +
        "c\\n::warning::case: tool,title=evil::\\u202e at messages[3].tool_calls[0]: " +
        'recipient = "x\\n::error::pwned\\r\\n::add-mask::y %250A \\x1b[2J #\\x23[z" ' +
        "(untrusted) from messages[0]\n",
    );
  });

  it("replaces matched values by a SHA-256 prefix with redact", () => {
    const report = syntheticReport([
      { case_id: "a", file: "a", decisions: [decision(1, "block", "r", "DE89370400440532013000")] },
    ]);
    const text = renderAnnotations(report, { redact: true });
    expect(text).not.toContain("DE89");
    // sha256("DE89370400440532013000"), first 8 hex digits.
    expect(text).toContain('recipient = "sha256:');
    expect(text).toMatch(/recipient = "sha256:[0-9a-f]{8}…"/);
  });
});
