import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "proof.js");
const tmp = mkdtempSync(join(tmpdir(), "proof-adapt-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function proof(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const POLICY = "examples/policies/lksg.v1.yaml";
const OK = "examples/contexts/context_ok.json";

describe("proof adapt", () => {
  it("reproduces the golden plan examples/plan_ok.json byte for byte", () => {
    const r = proof(
      "adapt",
      "--policy",
      POLICY,
      "--context",
      OK,
      "--selector",
      "weighted",
      "--weights",
      "examples/weights/rules.yaml",
      "--dry-run",
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(root, "examples/plan_ok.json"), "utf8"));
  });

  it("plans a context whose predicates fail: rules stay active, warnings name rules, never values", () => {
    const metrics = join(tmp, "m.prom");
    const r = proof(
      "adapt",
      "--policy",
      POLICY,
      "--context",
      "examples/contexts/context_incomplete.json",
      "--metrics-out",
      metrics,
    );
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.reason.eu_only).toEqual(["when:error"]);
    expect(plan.reason.risk_analysis_before_approval).toEqual(["when:error"]);
    expect(plan.skipped).toEqual([{ rule: "audit_fresh", reason: "when:false" }]);
    expect(r.stderr).toMatch(/warning: rule eu_only: 'when' failed/);
    // The context holds "staging" and "electronics": the log must not repeat them.
    expect(r.stderr).not.toMatch(/staging|electronics/);
    const text = readFileSync(metrics, "utf8");
    expect(text).toMatch(/^adapt_selection_failures_total 2$/m);
    expect(text).toMatch(/^adapt_selected_rules_total 5$/m);
    expect(text).toMatch(/^adapt_plans_total\{selector="basic"\} 1$/m);
    expect(text).toMatch(/^adapt_selection_latency_seconds_count 1$/m);
  });

  it("looks a policy id up in --policy-dir", () => {
    const r = proof("adapt", "--policy", "lksg.v1", "--policy-dir", "examples/policies", "--context", OK);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).policy_id).toBe("lksg.v1");
    const missing = proof(
      "adapt",
      "--policy",
      "nope.v1",
      "--policy-dir",
      "examples/policies",
      "--context",
      OK,
    );
    expect(missing.code).toBe(6);
    expect(missing.stderr).toMatch(/no file or policy id 'nope.v1'/);
  });

  it("verifies traces with the plan it made, and verify --plan gives the same report", () => {
    const planFile = join(tmp, "plan.json");
    const a = proof(
      "adapt",
      "--policy",
      POLICY,
      "--context",
      OK,
      "-o",
      planFile,
      "--traces",
      "examples/traces/lksg",
      "--out",
      join(tmp, "a"),
    );
    expect(a.code).toBe(5);
    const b = proof(
      "verify",
      "--policy",
      POLICY,
      "--context",
      OK,
      "--plan",
      planFile,
      "--traces",
      "examples/traces/lksg",
      "--out",
      join(tmp, "b"),
    );
    expect(b.code).toBe(5);
    for (const f of ["report.json", "decisions.jsonl", "plan.json", "summary.md"]) {
      expect(readFileSync(join(tmp, "b", f), "utf8")).toBe(readFileSync(join(tmp, "a", f), "utf8"));
    }
    const report = JSON.parse(readFileSync(join(tmp, "b", "report.json"), "utf8"));
    const verdicts = Object.fromEntries(
      report.traces.map((t: { case_id: string; verdict: string }) => [t.case_id, t.verdict]),
    );
    expect(verdicts).toEqual({
      "approve_after_analysis.json": "allow",
      "approve_without_analysis.json": "block",
      "order_conflict_region.json": "block",
      "order_sanctioned_supplier.json": "block",
    });
  });

  it("signs the out dir it writes when verifying with the plan", () => {
    const keys = join(tmp, "keys");
    expect(proof("keys", "gen", "--out", keys).code).toBe(0);
    const out = join(tmp, "signed");
    const r = proof(
      "adapt",
      "--policy",
      POLICY,
      "--context",
      OK,
      "-o",
      join(tmp, "signed-plan.json"),
      "--traces",
      "examples/traces/lksg",
      "--out",
      out,
      "--sign-key",
      join(keys, "proof.key"),
    );
    expect(r.code).toBe(5);
    expect(proof("attest", "verify", out, "--pub", join(keys, "proof.pub")).code).toBe(0);
    writeFileSync(join(out, "plan.json"), "{}\n");
    expect(proof("attest", "verify", out, "--pub", join(keys, "proof.pub")).code).toBe(2);
  });

  it("with --dry-run evaluates nothing, even when traces are named", () => {
    const out = join(tmp, "dry");
    const r = proof(
      "adapt",
      "--policy",
      POLICY,
      "--context",
      OK,
      "--dry-run",
      "--traces",
      "examples/traces/lksg",
      "--out",
      out,
    );
    expect(r.code).toBe(0);
    expect(() => readFileSync(join(out, "report.json"))).toThrow();
  });

  describe("bad input exits 6 with one clear message", () => {
    const write = (name: string, text: string) => {
      const p = join(tmp, name);
      writeFileSync(p, text);
      return p;
    };
    const cases: [string, () => string[], RegExp][] = [
      [
        "a missing context",
        () => ["--context", join(tmp, "none.json")],
        /cannot read .*none\.json: no such file/,
      ],
      [
        "a context that is not an object",
        () => ["--context", write("list.json", "[1, 2]\n")],
        /context must be an object/,
      ],
      [
        "a negative weight",
        () => [
          "--context",
          OK,
          "--selector",
          "weighted",
          "--weights",
          write("neg.yaml", "audit_fresh: -1\n"),
        ],
        /neg\.yaml:1:14: weight of 'audit_fresh' must be a non-negative integer/,
      ],
      [
        "a fractional weight",
        () => [
          "--context",
          OK,
          "--selector",
          "weighted",
          "--weights",
          write("frac.yaml", "audit_fresh: 0.5\n"),
        ],
        /must be a non-negative integer, not 0\.5/,
      ],
      [
        "a weight for an unknown rule",
        () => [
          "--context",
          OK,
          "--selector",
          "weighted",
          "--weights",
          write("unk.yaml", "no_such_rule: 1\n"),
        ],
        /unk\.yaml:1:1: unknown rule id 'no_such_rule'/,
      ],
      [
        "a weight too large to sum (it would make cost_sum null in the plan)",
        () => [
          "--context",
          OK,
          "--selector",
          "weighted",
          "--weights",
          write("huge.yaml", "audit_fresh: 1.5e308\n"),
        ],
        /huge\.yaml:1:14: weight of 'audit_fresh' is 1\.5e\+308, more than the limit of 1000000000/,
      ],
      [
        "a context holding .inf",
        () => ["--context", write("inf.yaml", "country: DE\nscore: .inf\n")],
        /inf\.yaml:2:8: '\.inf' is not a finite number/,
      ],
      [
        "an unknown selector",
        () => ["--context", OK, "--selector", "fancy"],
        /--selector must be basic or weighted/,
      ],
      [
        "weights without the weighted selector",
        () => ["--context", OK, "--weights", "examples/weights/rules.yaml"],
        /--weights goes with --selector weighted/,
      ],
    ];
    for (const [name, args, message] of cases) {
      it(name, () => {
        const r = proof("adapt", "--policy", POLICY, ...args());
        expect(r.code).toBe(6);
        expect(r.stdout).toBe("");
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        expect(r.stderr).toMatch(message);
      });
    }

    it("a rule cost too large to sum: no plan with a null cost_sum", () => {
      const policy = write(
        "costly.yaml",
        [
          "schema: proof.policy/v1",
          "policy_id: costly.v1",
          "rules:",
          "  - id: a",
          "    match: { tool: [x] }",
          "    effect: block",
          "    cost: 1.5e308",
          "  - id: b",
          "    match: { tool: [y] }",
          "    effect: block",
          "    cost: 1.5e308",
          "",
        ].join("\n"),
      );
      const planFile = join(tmp, "costly-plan.json");
      const r = proof("adapt", "--policy", policy, "--context", OK, "-o", planFile);
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(
        /costly\.yaml:7:11: cost of rule 'a' is 1\.5e\+308, more than the limit of 1000000000/,
      );
      expect(() => readFileSync(planFile)).toThrow();
    });

    it("a plan for another policy or another context", () => {
      const planFile = join(tmp, "plan-ok.json");
      expect(proof("adapt", "--policy", POLICY, "--context", OK, "-o", planFile).code).toBe(0);
      const other = proof(
        "verify",
        "--policy",
        "examples/policies/airline.yaml",
        "--plan",
        planFile,
        "--traces",
        "examples/traces/lksg",
        "--out",
        join(tmp, "x"),
      );
      expect(other.code).toBe(6);
      expect(other.stderr).toMatch(
        /plan is for policy lksg\.v1 sha256:[0-9a-f]{64}, but --policy is airline\.v1 sha256:[0-9a-f]{64}/,
      );
      const ctx = proof(
        "verify",
        "--policy",
        POLICY,
        "--context",
        "examples/contexts/context_incomplete.json",
        "--plan",
        planFile,
        "--traces",
        "examples/traces/lksg",
        "--out",
        join(tmp, "y"),
      );
      expect(ctx.code).toBe(6);
      expect(ctx.stderr).toMatch(
        /plan is for context sha256:[0-9a-f]{64}, but --context digests to sha256:[0-9a-f]{64}/,
      );
      const bad = proof(
        "verify",
        "--policy",
        POLICY,
        "--plan",
        write("bad-plan.json", '{"schema":"proof.plan/v1"}'),
        "--traces",
        "examples/traces/lksg",
        "--out",
        join(tmp, "z"),
      );
      expect(bad.code).toBe(6);
      expect(bad.stderr).toMatch(/not a proof\.plan\/v1 file/);
    });
  });
});
