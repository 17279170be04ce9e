/**
 * Escaping of trace text for each medium, over random strings (fast-check): whatever the agent's
 * world puts in a case id, tool name or value, no output line can carry a control character, a
 * workflow command (`::cmd::`, `##[cmd]`), markup, math or a cell break.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  escapeMarkdown,
  MAX_PUBLIC_NAME,
  publicName,
  shorten,
  terminalText,
  visible,
} from "../../src/report/escape.js";
import { renderSummary } from "../../src/report/markdown.js";
import { renderTable } from "../../src/report/terminal.js";
import { decision, syntheticReport } from "./helpers.js";

/** Pieces that matter to some medium, mixed with arbitrary code units (lone surrogates included). */
const hostile = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        "::",
        "##[",
        "#",
        "[",
        "$",
        "<",
        ">",
        "&",
        '"',
        "|",
        "\\",
        "`",
        "]]>",
        "\n",
        "\r",
        "\t",
        "\u0000",
        "\u001b[2J",
        "\u0085",
        "\u009b",
        "\u2028",
        "\u202e",
        "\u2066",
        "\ufeff",
        "\ufffe",
        "\ud800",
        "\udc00",
        "😀",
        "add-mask",
      ),
      fc.string({ unit: "binary", maxLength: 4 }),
      fc.string({
        unit: fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n)),
        maxLength: 4,
      }),
    ),
    { maxLength: 24 },
  )
  .map((parts) => parts.join(""));

/** Control, bidirectional and other invisible code points, and lone surrogates. */
const INVISIBLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is looked for
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff\ufffe\uffff\ud800-\udfff]/u;

/** Reverses `visible` (an independent reading of its documented escapes). */
function unvisible(text: string): string {
  return text.replace(/\\(\\|n|r|t|x[0-9a-f]{2}|u[0-9a-f]{4})/g, (_, e: string) =>
    e === "\\"
      ? "\\"
      : e === "n"
        ? "\n"
        : e === "r"
          ? "\r"
          : e === "t"
            ? "\t"
            : String.fromCharCode(Number.parseInt(e.slice(1), 16)),
  );
}

describe("visible text", () => {
  it("holds no invisible code point and no `##[`, and reads back to the original", () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const v = visible(s);
        expect(v).not.toMatch(INVISIBLE);
        expect(v).not.toContain("##[");
        expect(unvisible(v)).toBe(s);
      }),
    );
  });

  it("bounds names, and keeps two long names with a common prefix apart", () => {
    fc.assert(
      fc.property(hostile, fc.string(), fc.string(), (s, a, b) => {
        expect([...publicName(s)].length).toBeLessThanOrEqual(MAX_PUBLIC_NAME);
        const prefix = "x".repeat(500) + s;
        if (a !== b) expect(publicName(prefix + a)).not.toBe(publicName(prefix + b));
      }),
    );
    expect(shorten("a".repeat(65))).toMatch(/^a{48}…sha256:[0-9a-f]{8}$/);
    expect(shorten("a".repeat(64))).toBe("a".repeat(64));
  });
});

/** Splits a markdown table row into cells the way GFM does: at pipes not escaped by a backslash. */
function cells(row: string): string[] {
  const out: string[] = [];
  let cell = "";
  for (let i = 0; i < row.length; i++) {
    const c = row.charAt(i);
    if (c === "\\") {
      cell += c + row.charAt(i + 1);
      i++;
    } else if (c === "|") {
      out.push(cell);
      cell = "";
    } else cell += c;
  }
  out.push(cell);
  return out.slice(1, -1);
}

describe("markdown", () => {
  it("a cell holds no markup, math, line break or workflow command, and stays one cell", () => {
    fc.assert(
      fc.property(hostile, hostile, (a, b) => {
        const x = escapeMarkdown(publicName(a));
        const y = escapeMarkdown(publicName(b));
        for (const cell of [x, y]) {
          expect(cell).not.toMatch(INVISIBLE);
          expect(cell).not.toMatch(/[<>"$]/);
          expect(cell).not.toContain("::");
          expect(cell).not.toContain("##[");
          // Every markdown punctuation character is escaped: preceded by an odd run of backslashes.
          // (The `#` of an entity such as `&#36;` is part of the entity, not markdown.)
          for (const m of cell.replace(/&#\d+;/g, "").matchAll(/(\\*)([|`*_{}[\]()#+\-.!~:@])/g))
            expect((m[1] as string).length % 2, cell).toBe(1);
        }
        expect(cells(`| ${x} | ${y} |`)).toHaveLength(2);
      }),
    );
  });

  it("summary.md: no line of a hostile report starts a command, breaks the table or opens math", () => {
    fc.assert(
      fc.property(hostile, hostile, hostile, (caseId, tool, value) => {
        const report = syntheticReport([
          { case_id: caseId, file: "t.json", decisions: [decision(1, "block", "r", value, tool)] },
        ]);
        const lines = renderSummary(report).split("\n");
        for (const line of lines) {
          expect(line).not.toMatch(INVISIBLE);
          expect(line.trimStart().startsWith("::")).toBe(false);
          expect(line).not.toContain("##[");
          expect(line).not.toMatch(/[<$]/);
        }
        const row = lines[lines.indexOf("| --- | --- | --- | --- | --- |") + 1];
        expect(cells(row as string)).toHaveLength(5);
      }),
    );
  });
});

describe("terminal", () => {
  it("no control character or workflow command prefix survives in a row", () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const t = terminalText(publicName(s));
        expect(t).not.toMatch(INVISIBLE);
        expect(t).not.toContain("::");
        expect(t).not.toContain("##[");
      }),
    );
  });

  it("the verify table prints one inert line per case, hostile case ids included", () => {
    fc.assert(
      fc.property(fc.uniqueArray(hostile, { minLength: 1, maxLength: 5 }), (ids) => {
        const report = syntheticReport(
          ids.map((id) => ({ case_id: id, file: "t", decisions: [decision(1, "block", "r", "v")] })),
        );
        const lines = renderTable(report, false).split("\n");
        expect(lines.pop()).toBe("");
        expect(lines).toHaveLength(ids.length + 1);
        for (const line of lines) {
          expect(line).not.toMatch(INVISIBLE);
          expect(line).not.toContain("::");
          expect(line).not.toContain("##[");
        }
      }),
    );
  });

  it("shows a legacy command in a case id escaped", () => {
    const report = syntheticReport([
      { case_id: "##[add-mask]x\n::error::y", file: "t", decisions: [decision(1, "block", "r", "v")] },
    ]);
    expect(renderTable(report, false).split("\n")[0]).toBe(
      "block    #\\x23[add-mask]x\\n:\\x3aerror:\\x3ay  r",
    );
  });
});
