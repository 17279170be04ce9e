/** `junit.xml` (DESIGN.md §7): well-formed XML, one suite per traces root, one case per case. */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { renderJunit } from "../../src/report/junit.js";
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
    // Attribute values come back unescaped: the case id with its markup and line break survived.
    expect(cases.map((c) => c["@name"])).toEqual(report.traces.map((t) => t.case_id));
    for (const c of cases) {
      expect(c["@time"]).toBe("0");
      const failures = c.failure as Node[];
      expect(failures).toHaveLength(1);
      expect(failures[0]?.["@type"]).toBe("block");
      expect(String(failures[0]?.["#cdata"])).toContain("golden.body_from_tool_output");
    }
    // Trace text is character data inside CDATA: it reads back exactly, as text, not markup.
    expect(String(((cases[0] as Node).failure as Node[])[0]?.["#cdata"])).toContain(
      'body = "<script>alert(1)</script>\n::error::pwned',
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
    expect(String(((b as Node)["system-out"] as Node)["#cdata"])).toContain("warn: send_money");
    expect(c?.failure).toBeUndefined();
    expect(c?.["system-out"]).toBeUndefined();
  });

  it("redacts matched values with --redact and drops characters XML cannot hold", () => {
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
    const redacted = renderJunit(report, ["."], new Map(), { redact: true });
    parse(redacted);
    expect(redacted).not.toContain("secret-value");
    expect(redacted).toMatch(/recipient = "sha256:[0-9a-f]{8}…"/);
  });
});
