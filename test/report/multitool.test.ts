/**
 * `results.sarif` of the demo's runs (scripts/demo.mjs: the AgentDojo corpus under the example
 * banking and slack policies and the naive baseline policy, and tau-bench airline) passes
 * Microsoft's SARIF multitool with GitHub's ingestion rules: zero errors (GH2012 requires every
 * rule to carry `help`). The regress run is checked in test/regress/gate-artifacts.test.ts.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { proof, ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";
import { multitoolErrors } from "./multitool.js";

const RUNS = "fixtures/corpus/agentdojo/runs";
/** The demo's verify runs: name -> policy and traces. */
const DEMO: [string, string, string][] = [
  ["agentdojo-banking", "examples/policies/agentdojo-banking.yaml", RUNS],
  ["agentdojo-slack", "examples/policies/agentdojo-slack.yaml", RUNS],
  ["agentdojo-naive", "fixtures/eval/naive-destination.yaml", RUNS],
  ["tau-bench-airline", "examples/policies/airline.yaml", "fixtures/corpus/tau-bench"],
];

afterAll(removeTempDirs);

describe("the demo's results.sarif", () => {
  it.each(DEMO)(
    "%s: zero errors from sarif-multitool validate --rule-kind Gh;Sarif",
    async (name, policy, traces) => {
      const out = join(await tempDir(), name);
      const r = await proof(
        ["verify", "--policy", policy, "--traces", traces, "--out", out, "--quiet"],
        ROOT,
      );
      expect([0, 5]).toContain(r.code);
      expect(await multitoolErrors(join(out, "results.sarif"))).toEqual([]);
    },
  );
});
