import { describe, expect, it } from "vitest";
import { ProofError } from "../../src/errors.js";
import { isPositive, parseLabels } from "../../src/eval/labels.js";

function error(text: string): ProofError {
  try {
    parseLabels(text, "labels.jsonl");
  } catch (err) {
    if (err instanceof ProofError) return err;
    throw err;
  }
  throw new Error("no error");
}

describe("parseLabels", () => {
  it("reads the verdict and violation forms, with string fields as groups", () => {
    const set = parseLabels(
      [
        '{"case": "a.json", "expected": "block", "suite": "bank", "n": 3}',
        "",
        '{"case": "b.json", "expected": {"violation": false}}',
        '{"case": "c.json", "violation": true, "violating_calls": [{"message_index": 4, "function": "send_money"}]}',
      ].join("\n"),
      "labels.jsonl",
    );
    expect(set.format).toBe("labels");
    expect(set.labels.map((l) => [l.case, l.expected, l.groups, l.line])).toEqual([
      ["a.json", { verdict: "block" }, { suite: "bank" }, 1],
      ["b.json", { violation: false }, {}, 3],
      ["c.json", { violation: true }, {}, 4],
    ]);
    expect(set.labels[2]?.violating_calls).toEqual([{ message_index: 4, function: "send_money" }]);
  });

  it("counts a verdict label as positive when it is at or above the flag level", () => {
    const [warn, block] = parseLabels(
      '{"case": "w", "expected": "warn"}\n{"case": "b", "expected": "block"}\n',
      "l.jsonl",
    ).labels;
    expect(isPositive(warn as never, "block")).toBe(false);
    expect(isPositive(warn as never, "warn")).toBe(true);
    expect(isPositive(block as never, "require_approval")).toBe(true);
  });

  it("reads an AgentDojo manifest as it is, removing the traces root from file", () => {
    const line = JSON.stringify({
      file: "runs/m/banking/user_task_0/none/none.json",
      git_blob_sha: "abc",
      model: "m",
      suite: "banking",
      attack_type: null,
      expected_violation: true,
      violating_calls: [{ message_index: 2, function: "send_money" }],
      n_messages: 5,
    });
    const set = parseLabels(`${line}\r\n`, "manifest.jsonl", { stripPrefixes: ["runs/"] });
    expect(set.format).toBe("agentdojo-manifest");
    expect(set.labels[0]).toEqual({
      case: "m/banking/user_task_0/none/none.json",
      expected: { violation: true },
      groups: { model: "m", suite: "banking" },
      violating_calls: [{ message_index: 2, function: "send_money" }],
      line: 1,
    });
    expect(parseLabels(line, "manifest.jsonl").labels[0]?.case).toBe(
      "runs/m/banking/user_task_0/none/none.json",
    );
  });

  it("locates invalid JSON at file, line and column", () => {
    const e = error('{"case": "a", "violation": true}\n{"case": "b", violation: true}\n');
    expect(e.location).toMatchObject({ file: "labels.jsonl", line: 2 });
    expect(e.location?.column).toBeGreaterThan(1);
    expect(e.exitCode).toBe(6);
  });

  it.each([
    ['["a"]', "eval.bad_label", "JSON object"],
    ['{"expected": "block"}', "eval.bad_label", "needs case"],
    ['{"case": "a"}', "eval.bad_label", "needs expected or violation"],
    ['{"case": "a", "expected": "block", "violation": true}', "eval.bad_label", "not both"],
    ['{"case": "a", "expected": "deny"}', "eval.bad_label", "not 'deny'"],
    ['{"case": "a", "expected": {"violation": "yes"}}', "eval.bad_label", "expected must be"],
    ['{"case": "a", "violation": true, "violating_calls": {}}', "eval.bad_label", "violating_calls"],
  ])("refuses %s with a located error", (line, code, message) => {
    const e = error(`{"case": "first", "violation": false}\n${line}\n`);
    expect(e.code).toBe(code);
    expect(e.message).toContain(message);
    expect(e.location).toEqual({ file: "labels.jsonl", line: 2 });
  });

  it("refuses a manifest line without a boolean expected_violation, at its line", () => {
    const e = error(
      '{"file": "a", "expected_violation": true}\n{"file": "b", "expected_violation": "yes"}\n',
    );
    expect(e.code).toBe("eval.bad_label");
    expect(e.message).toContain("expected_violation");
    expect(e.location).toEqual({ file: "labels.jsonl", line: 2 });
  });

  it("refuses a case labelled twice, naming the first line", () => {
    const e = error('{"case": "a", "violation": true}\n{"case": "a", "violation": false}\n');
    expect(e.code).toBe("eval.duplicate_label");
    expect(e.message).toContain("line 1");
    expect(e.location).toEqual({ file: "labels.jsonl", line: 2 });
  });

  it("refuses labels mixed with manifest lines, and an empty file", () => {
    expect(error('{"case": "a", "violation": true}\n{"file": "b", "expected_violation": true}\n').code).toBe(
      "eval.mixed_labels",
    );
    expect(error("\n\n").code).toBe("eval.no_labels");
  });
});
