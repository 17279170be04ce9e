/**
 * Judgement.cases (src/api/pipeline.ts) is made from the report's entries when read, with each
 * decision digest held as raw bytes until then: the cases must be those a list of CaseResult built
 * as each trace was recorded gives.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CaseResult, decisionDigest, Judgement } from "../../src/api/pipeline.js";
import { listTraceFiles } from "../../src/io/files.js";
import { loadPolicySet } from "../../src/io/policy-files.js";
import { traceSource } from "../../src/io/trace-files.js";
import { readTraces } from "../../src/trace/read.js";
import type { TraceResult } from "../../src/verify/decision.js";
import { ROOT } from "../e2e/cli.js";

const byCaseId = (a: CaseResult, b: CaseResult) =>
  a.case_id < b.case_id ? -1 : a.case_id > b.case_id ? 1 : 0;

describe("Judgement.cases", () => {
  it("gives every recorded case with its decision digest, in record order, then sorted once finished", async () => {
    const policies = await loadPolicySet(join(ROOT, "examples/policies/agentdojo-banking.yaml"));
    const judgement = new Judgement(policies, { context: {}, hasContext: false, failOn: "block" });
    const expected: CaseResult[] = [];
    const root = join(ROOT, "fixtures/corpus/agentdojo/runs");
    let result: TraceResult | undefined;
    for (const found of await listTraceFiles(root)) {
      for await (const trace of readTraces(traceSource(found), "auto")) {
        result = judgement.verify(trace);
        judgement.record(result, trace, found.rel);
        expected.push({
          case_id: result.case_id,
          trace_id: result.trace_id,
          file: found.rel,
          verdict: result.verdict,
          rules: result.rules,
          decision_digest: decisionDigest(result),
        });
      }
    }
    if (!result) throw new Error("no trace in the fixtures");
    // Past the first allocation of digests (1024), with distinct digests, a trial, and a digest
    // not of the usual form, recorded as a worker thread or a shard would give them.
    for (let i = 0; i < 1500; i++) {
      const digest =
        i === 7 ? "sha256:NOT-HEX" : `sha256:${createHash("sha256").update(String(i)).digest("hex")}`;
      const r = { ...result, case_id: `synthetic/${String(1499 - i).padStart(4, "0")}.json` };
      const trial = i === 3 ? { case_id: "synthetic/base.json", trial: 3 } : undefined;
      judgement.recordCase({
        result: r,
        file: "synthetic.jsonl",
        format: "proof",
        warnings: [],
        decisionDigest: digest,
        ...(trial ? { trial } : {}),
      });
      expected.push({
        case_id: r.case_id,
        trace_id: r.trace_id,
        file: "synthetic.jsonl",
        verdict: r.verdict,
        rules: r.rules,
        decision_digest: digest,
        ...(trial ? { trial } : {}),
      });
    }
    expect(expected.length).toBeGreaterThan(1500);
    expect(judgement.cases).toEqual(expected);
    judgement.finish(root);
    const sorted = [...expected].sort(byCaseId);
    expect(sorted).not.toEqual(expected);
    expect(judgement.cases).toEqual(sorted);
    // The same list each time it is read after the report is finished.
    expect(judgement.cases).toBe(judgement.cases);
  });
});
