/**
 * ReportBuilder (src/report/report.ts) holds an entry per trace until the report is written: the
 * decisions it keeps must be exactly those the report lists, in lists that cannot be changed for
 * every entry at once.
 */
import { describe, expect, it } from "vitest";
import { ReportBuilder } from "../../src/report/report.js";
import type { Decision, TraceResult } from "../../src/verify/decision.js";

function decision(seq: number, verdict: Decision["verdict"], rules: string[]): Decision {
  const evidence: Decision["evidence"] = [];
  for (const rule of rules) evidence.push({ rule, kind: "max_calls", count: 3, limit: 2, per: "trace" });
  return {
    case_id: "c",
    trace_id: "t",
    seq,
    at: `messages[${seq}]`,
    tool: "send",
    verdict,
    rules,
    reasons: rules.map((r) => `${r}_reason`),
    evidence,
    errors: [],
  };
}

function result(caseId: string, decisions: Decision[]): TraceResult {
  return {
    case_id: caseId,
    trace_id: `sha256:${"0".repeat(64)}`,
    verdict: decisions.some((d) => d.verdict === "block") ? "block" : "allow",
    rules: [...new Set(decisions.flatMap((d) => d.rules))].sort(),
    tool_calls: decisions.length,
    decisions,
  };
}

describe("ReportBuilder", () => {
  it("keeps the decisions some rule matched or that are not allow, equal to the judged ones", () => {
    const builder = new ReportBuilder([], "sha256:x", null, "block");
    const judged = [
      decision(0, "allow", []),
      decision(1, "block", ["r.a"]),
      decision(2, "allow", ["r.b"]),
      decision(3, "allow", []),
    ];
    builder.add(result("b", judged), "b.json", "proof");
    builder.add(result("a", [decision(0, "allow", []), decision(1, "allow", [])]), "a.json", "proof");
    builder.add(result("c", []), "c.json", "proof");
    const report = builder.build();
    expect(report.traces.map((t) => t.case_id)).toEqual(["a", "b", "c"]);
    const [a, b, c] = report.traces;
    expect(b?.decisions).toEqual([judged[1], judged[2]]);
    expect(a?.decisions).toEqual([]);
    expect(c?.decisions).toEqual([]);
    // The empty list is shared by entries: changing it must fail, not change every entry.
    expect(() => a?.decisions.push(judged[0] as Decision)).toThrow(TypeError);
    expect(c?.decisions).toEqual([]);
  });
});
