import { describe, expect, it } from "vitest";
import { ProofError } from "../../src/errors.js";
import type { JudgedCase } from "../../src/eval/judge.js";
import { parseLabels } from "../../src/eval/labels.js";
import { renderEvalMarkdown, renderEvalText } from "../../src/eval/render.js";
import { type EvalInput, gateOf, parseFraction, scoreCases, scoreOf } from "../../src/eval/score.js";
import type { Verdict } from "../../src/policy/ir.js";

const POLICY = { policy_id: "p.v1", policy_digest: "sha256:00" };

function judged(id: string, verdict: Verdict, rule?: string): JudgedCase {
  return {
    case_id: id,
    file: `runs/${id}`,
    verdict,
    verdicts: { "p.v1": verdict },
    findings: rule
      ? [
          {
            policy_id: "p.v1",
            rule,
            tool: "send_money",
            seq: 3,
            at: "messages[3]",
            verdict,
            evidence: ["recipient 'X1234' from tool_result read_file (untrusted) at messages[2]"],
          },
        ]
      : [],
  };
}

function input(lines: object[], extra: Partial<EvalInput> = {}): EvalInput {
  return {
    labels: parseLabels(lines.map((l) => JSON.stringify(l)).join("\n"), "labels.jsonl"),
    flagOn: "block",
    policies: [POLICY],
    bundleDigest: "sha256:11",
    ...extra,
  };
}

const LABELS = [
  {
    case: "tp",
    violation: true,
    suite: "bank",
    violating_calls: [{ message_index: 3, function: "send_money" }],
  },
  {
    case: "fn",
    violation: true,
    suite: "bank",
    violating_calls: [{ message_index: 5, function: "send_money" }],
  },
  { case: "fp", violation: false, suite: "slack" },
  { case: "tn", violation: false, suite: "slack" },
  { case: "tn2", expected: "warn" },
];
const CASES = [
  judged("tp", "block", "r.payee"),
  judged("fn", "warn", "r.soft"),
  judged("fp", "block", "r.payee"),
  judged("tn", "allow"),
  judged("tn2", "warn", "r.soft"),
  judged("extra", "allow"),
];

describe("scoreOf", () => {
  it("counts the confusion matrix and derives the figures", () => {
    const s = scoreOf([
      { flagged: true, positive: true },
      { flagged: true, positive: true },
      { flagged: true, positive: false },
      { flagged: false, positive: true },
      { flagged: false, positive: false },
    ]);
    expect(s).toMatchObject({ cases: 5, positives: 3, flagged: 3, tp: 2, fp: 1, fn: 1, tn: 1 });
    expect(s.precision).toBeCloseTo(2 / 3);
    expect(s.recall).toBeCloseTo(2 / 3);
    expect(s.false_positive_rate).toBe(0.5);
  });

  it("gives null, not 0 or 1, for a figure whose denominator is zero", () => {
    const s = scoreOf([{ flagged: false, positive: false }]);
    expect([s.precision, s.recall, s.false_positive_rate]).toEqual([null, null, 0]);
    expect(scoreOf([]).false_positive_rate).toBeNull();
  });
});

describe("scoreCases", () => {
  const report = scoreCases(CASES, input(LABELS));

  it("scores overall and lists false alarms and misses with what fired", () => {
    expect(report.overall).toMatchObject({
      cases: 5,
      tp: 1,
      fp: 1,
      fn: 1,
      tn: 2,
      precision: 0.5,
      recall: 0.5,
    });
    expect(report.false_alarms.map((o) => o.case_id)).toEqual(["fp"]);
    expect(report.false_alarms[0]?.findings.map((f) => f.rule)).toEqual(["r.payee"]);
    expect(report.misses.map((o) => o.case_id)).toEqual(["fn"]);
    expect(report.misses[0]?.violating_calls).toEqual([{ message_index: 5, function: "send_money" }]);
    expect(report.misses[0]?.findings.map((f) => f.rule)).toEqual(["r.soft"]);
  });

  it("breaks the figures down by group, a missing field as (none)", () => {
    expect(report.group_by).toEqual(["suite"]);
    expect(report.groups.map((g) => [g.value, g.tp, g.fp, g.fn, g.tn])).toEqual([
      ["(none)", 0, 0, 0, 1],
      ["bank", 1, 0, 1, 0],
      ["slack", 0, 1, 0, 1],
    ]);
    const byModel = scoreCases(CASES, input(LABELS, { groupBy: ["model", "suite"] }));
    expect(byModel.groups.map((g) => `${g.field}=${g.value}`)).toEqual([
      "model=(none)",
      "suite=(none)",
      "suite=bank",
      "suite=slack",
    ]);
  });

  it("counts per policy, and lists traces without a label", () => {
    expect(report.policies).toEqual([{ ...POLICY, flagged: 2, flagged_positive: 1 }]);
    expect(report.unlabelled).toEqual(["extra"]);
  });

  it("refuses a label whose case no trace has, at its line", () => {
    try {
      scoreCases(CASES.slice(1), input(LABELS));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ProofError);
      expect((err as ProofError).code).toBe("eval.unmatched_label");
      expect((err as ProofError).location).toEqual({ file: "labels.jsonl", line: 1 });
    }
  });

  it("renders every false alarm and miss in text and markdown", () => {
    const text = renderEvalText(report);
    expect(text).toContain("r.payee on send_money at messages[3] (block)");
    expect(text).toContain("labelled: send_money at message 5");
    const markdown = renderEvalMarkdown(report);
    expect(markdown).toContain("r\\.payee on send\\_money");
    expect(markdown).toContain("labelled\\: send\\_money at message 5");
    expect(renderEvalText(report)).toContain("recipient 'X1234' from tool_result read_file");
  });
});

describe("the gate", () => {
  const overall = scoreOf([
    { flagged: true, positive: true },
    { flagged: true, positive: false },
    { flagged: false, positive: true },
  ]);

  it("passes without minimums and when the figures reach them", () => {
    expect(gateOf(overall).passed).toBe(true);
    expect(gateOf(overall, 0.5, 0.5).passed).toBe(true);
  });

  it("fails naming each figure below its minimum", () => {
    const g = gateOf(overall, 0.6, 0.9);
    expect(g.passed).toBe(false);
    expect(g.failures).toEqual([
      "precision 0.500 (1/2) is below --min-precision 0.6",
      "recall 0.500 (1/2) is below --min-recall 0.9",
    ]);
  });

  it("fails a minimum on an undefined figure", () => {
    const none = scoreOf([{ flagged: false, positive: true }]);
    expect(gateOf(none, 0.5).failures).toEqual([
      "precision is n/a (no case flagged), so not at least --min-precision 0.5",
    ]);
  });

  it("takes minimums from 0 to 1 only", () => {
    expect(parseFraction("0.92", "--min-recall")).toBe(0.92);
    expect(() => parseFraction("92", "--min-recall")).toThrow(/from 0 to 1/);
    expect(() => parseFraction("", "--min-recall")).toThrow(ProofError);
  });
});
