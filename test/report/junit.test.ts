/** `junit.xml` (docs/artifacts.md): well-formed XML, one suite per traces root, one case per case. */
import fc from "fast-check";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { visible } from "../../src/report/escape.js";
import { MAX_JUNIT_FINDINGS, renderJunit } from "../../src/report/junit.js";
import { decision, goldenReport, syntheticReport } from "./helpers.js";

interface Node {
  [key: string]: unknown;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  isArray: (name) => ["testsuite", "testcase", "failure"].includes(name),
  cdataPropName: "#cdata",
  htmlEntities: true,
});

function parse(xml: string): Node[] {
  expect(XMLValidator.validate(xml)).toBe(true);
  const doc = parser.parse(xml) as { testsuites: { testsuite: Node[] } & Node };
  return doc.testsuites.testsuite;
}

describe("junit.xml", () => {
  it("escaping: one suite, one test case per case, time 0, a failure for each blocked case", () => {
    const report = goldenReport("escaping");
    const rootOf = new Map(report.traces.map((t) => [t.case_id, 0]));
    const xml = renderJunit(report, ["traces"], rootOf);
    const suites = parse(xml);
    expect(suites).toHaveLength(1);
    const suite = suites[0] as Node;
    expect(suite["@name"]).toBe("traces");
    expect(suite["@time"]).toBe("0");
    const cases = suite.testcase as Node[];
    // Attribute values come back unescaped: the case id with its markup survived, its line break
    // shown as `\n` like every control character in public artifacts.
    expect(cases.map((c) => c["@name"])).toEqual([
      "headline_[x](y).json",
      "ops/<script>x</script>|*_[a](b)\\n::warning::case",
    ]);
    for (const c of cases) {
      expect(c["@time"]).toBe("0");
      const failures = c.failure as Node[];
      expect(failures).toHaveLength(1);
      expect(failures[0]?.["@type"]).toBe("block");
      expect(String(failures[0]?.["#text"])).toContain("golden.body_from_tool_output");
    }
    // Trace text is escaped character data: it reads back exactly, as text, not markup.
    expect(String(((cases[0] as Node).failure as Node[])[0]?.["#text"])).toContain(
      'body = "<script>alert(1)</script>\\n::error::pwned',
    );
  });

  it("puts each case in the suite of its traces root and fails only cases at or above fail_on", () => {
    const report = syntheticReport([
      { case_id: "a.json", file: "one/a.json", decisions: [decision(1, "block", "r.block", "value-a")] },
      { case_id: "b.json", file: "two/b.json", decisions: [decision(1, "warn", "r.warn", "value-b")] },
      { case_id: "c.json", file: "two/c.json", decisions: [] },
    ]);
    const rootOf = new Map([
      ["a.json", 0],
      ["b.json", 1],
      ["c.json", 1],
    ]);
    const suites = parse(renderJunit(report, ["one", "two"], rootOf));
    expect(suites.map((s) => s["@name"])).toEqual(["one", "two"]);
    expect(suites.map((s) => s["@tests"])).toEqual(["1", "2"]);
    expect(suites.map((s) => s["@failures"])).toEqual(["1", "0"]);
    const [a] = (suites[0] as Node).testcase as Node[];
    const [b, c] = (suites[1] as Node).testcase as Node[];
    expect(a?.["@file"]).toBe("one/a.json");
    expect(((a as Node).failure as Node[])[0]?.["@message"]).toBe("block by r.block");
    expect(b?.failure).toBeUndefined();
    expect(String((b as Node)["system-out"])).toContain("warn: send_money");
    expect(c?.failure).toBeUndefined();
    expect(c?.["system-out"]).toBeUndefined();
  });

  it("redacts matched values with --redact and shows characters XML cannot hold as escapes", () => {
    const report = syntheticReport([
      {
        case_id: "a\u0001.json",
        file: "a.json",
        decisions: [decision(1, "block", "r", "secret-value ]]> \u001b[31m")],
      },
    ]);
    const plain = renderJunit(report, ["."], new Map());
    parse(plain);
    expect(plain).toContain("secret-value");
    expect(plain).toContain('name="a\\x01.json"');
    const redacted = renderJunit(report, ["."], new Map(), { redact: true });
    parse(redacted);
    expect(redacted).not.toContain("secret-value");
    expect(redacted).toMatch(/recipient = "sha256:[0-9a-f]{8}…"/);
  });

  it("escapes every `]]>`: trace text cannot add a test case", () => {
    const fake = ']]></failure></testcase><testcase name="fake"><failure>]]><![CDATA[';
    const report = syntheticReport([
      { case_id: `a${fake}`, file: "a.json", decisions: [decision(1, "block", "r", fake, fake)] },
    ]);
    const cases = parse(renderJunit(report, ["."], new Map()))[0]?.testcase as Node[];
    expect(cases).toHaveLength(1);
    expect(cases[0]?.["@name"]).toBe(`a${fake}`);
    expect(String(((cases[0] as Node).failure as Node[])[0]?.["#text"])).toContain(`block: ${fake} at`);
  });

  it("lists at most MAX_JUNIT_FINDINGS findings per case and counts the rest", () => {
    const decisions = Array.from({ length: MAX_JUNIT_FINDINGS + 7 }, (_, i) =>
      decision(i, "block", "r", "v"),
    );
    const report = syntheticReport([{ case_id: "a", file: "a", decisions }]);
    const cases = parse(renderJunit(report, ["."], new Map()))[0]?.testcase as Node[];
    const lines = String(((cases[0] as Node).failure as Node[])[0]?.["#text"]).split("\n");
    expect(lines).toHaveLength(MAX_JUNIT_FINDINGS + 1);
    expect(lines.at(-1)).toBe("and 7 more findings in report.json");
  });
});

/** Code points XML 1.0 cannot hold; junit.xml shows them as visible escapes, so none remains. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is looked for
const XML_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff\ud800-\udfff]/u;

describe("junit.xml over random trace text", () => {
  const text = (maxLength: number) =>
    fc
      .array(
        fc.oneof(
          fc.constantFrom("]]>", "]]", ">", "<", "&", "&amp;", '"', "'", "\n", "\r", "\r\n", "\t"),
          fc.constantFrom(
            "\u0000",
            "\u0001",
            "\u001b",
            "\u007f",
            "\u0085",
            "\ud800",
            "\udfff",
            "\ufffe",
            "\uffff",
          ),
          fc.string({ unit: "binary", maxLength: 3 }),
        ),
        { maxLength },
      )
      .map((parts) => parts.join(""));

  it("parses back to the cases, names and failure texts that went in", () => {
    const strict = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: "@",
      isArray: (name) => ["testsuite", "testcase", "failure"].includes(name),
      htmlEntities: true,
      trimValues: false,
      parseTagValue: false,
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(
          // Short enough never to be cut: a value of 3 pieces is at most 54 code points once visible.
          fc.record({ id: text(8), tool: text(8), value: text(3) }),
          {
            minLength: 1,
            maxLength: 4,
            selector: (c) => visible(c.id),
          },
        ),
        (cases) => {
          const report = syntheticReport(
            cases.map((c) => ({
              case_id: c.id,
              file: c.id,
              decisions: [decision(1, "block", "r", c.value, c.tool), decision(2, "block", "r", "v", c.tool)],
            })),
          );
          const xml = renderJunit(report, ["root"], new Map());
          expect(xml).not.toMatch(XML_INVALID);
          expect(XMLValidator.validate(xml)).toBe(true);
          const doc = strict.parse(xml) as { testsuites: { testsuite: Node[] } };
          const parsed = doc.testsuites.testsuite[0]?.testcase as Node[];
          // The report sorts nothing here: cases come back in the order they went in.
          expect(parsed.map((c) => c["@name"])).toEqual(cases.map((c) => visible(c.id)));
          expect(parsed.map((c) => c["@file"])).toEqual(cases.map((c) => visible(c.id)));
          parsed.forEach((c, i) => {
            const { tool, value } = cases[i] as (typeof cases)[number];
            const failure = (c.failure as Node[])[0] as Node;
            expect(failure["@message"]).toBe("block by r");
            expect(String(failure["#text"]).split("\n")).toEqual([
              `block: ${visible(tool)} at messages[1].tool_calls[0] by r: recipient = "${visible(value)}" (untrusted) from messages[0]`,
              `block: ${visible(tool)} at messages[2].tool_calls[0] by r: recipient = "v" (untrusted) from messages[0]`,
            ]);
          });
        },
      ),
    );
  });
});
