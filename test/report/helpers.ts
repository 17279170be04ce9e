/** Inputs shared by the report renderer tests: the golden scenarios' reports and rules. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { compilePolicy } from "../../src/policy/compile.js";
import { type RuleMeta, ruleMetaOf } from "../../src/report/findings.js";
import type { Report } from "../../src/report/report.js";
import type { Decision } from "../../src/verify/decision.js";

const GOLDEN = fileURLToPath(new URL("../../fixtures/golden/", import.meta.url));

/** Names of the golden scenarios used here. */
export const SCENARIOS = ["airline", "banking", "escaping", "slack"];

/** `expected/report.json` of a golden scenario. */
export function goldenReport(name: string): Report {
  return JSON.parse(readFileSync(`${GOLDEN}${name}/expected/report.json`, "utf8")) as Report;
}

/** The rules of a golden scenario's policy. */
export function goldenRules(name: string): RuleMeta[] {
  const file = `${GOLDEN}${name}/policy.yaml`;
  return ruleMetaOf([compilePolicy(readFileSync(file, "utf8"), file)]);
}

/** A report of one trace per entry of `decisions` (each a list of calls), failing on `block`. */
export function syntheticReport(cases: { case_id: string; file: string; decisions: Decision[] }[]): Report {
  const order = ["allow", "warn", "require_approval", "block"] as const;
  const traces = cases.map((c) => {
    const verdict = c.decisions.reduce<(typeof order)[number]>(
      (v, d) => (order.indexOf(d.verdict) > order.indexOf(v) ? d.verdict : v),
      "allow",
    );
    return {
      case_id: c.case_id,
      trace_id: `sha256:${"0".repeat(64)}`,
      file: c.file,
      format: "proof" as const,
      verdict,
      rules: [...new Set(c.decisions.flatMap((d) => d.rules))].sort(),
      tool_calls: c.decisions.length,
      decisions: c.decisions,
    };
  });
  const verdicts = { allow: 0, warn: 0, require_approval: 0, block: 0 };
  for (const t of traces) verdicts[t.verdict]++;
  return {
    schema: "proof.report/v1",
    policies: [{ policy_id: "test.v1", policy_digest: `sha256:${"1".repeat(64)}` }],
    bundle_digest: `sha256:${"2".repeat(64)}`,
    context_digest: null,
    fail_on: "block",
    passed: verdicts.block === 0,
    summary: {
      traces: traces.length,
      tool_calls: traces.reduce((n, t) => n + t.tool_calls, 0),
      verdicts,
      failed: verdicts.block,
    },
    traces,
    warnings: [],
  };
}

/** A decision on one call with provenance evidence holding `value`. */
export function decision(
  seq: number,
  verdict: Decision["verdict"],
  rule: string,
  value: string,
  tool = "send_money",
): Decision {
  return {
    case_id: "c",
    trace_id: `sha256:${"0".repeat(64)}`,
    seq,
    at: `messages[${seq}].tool_calls[0]`,
    tool,
    verdict,
    rules: [rule],
    reasons: ["reason"],
    evidence: [
      {
        rule,
        kind: "provenance",
        arg: "recipient",
        value,
        integrity: "untrusted",
        source: { seq: 0, at: "messages[0]", type: "tool_result", tool: "read_file" },
        normalisation: [],
      },
    ],
    errors: [],
  };
}
