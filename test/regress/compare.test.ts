import { describe, expect, it } from "vitest";
import { ProofError } from "../../src/errors.js";
import { prettyJson } from "../../src/io/canonical.js";
import type { Verdict } from "../../src/policy/ir.js";
import { type CaseRecord, loadBaseline, makeBaseline } from "../../src/regress/baseline.js";
import { type CompareOptions, compareWithBaseline } from "../../src/regress/compare.js";
import { renderRegressMarkdown, renderRegressTerminal } from "../../src/report/regress.js";

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const POLICIES = [{ policy_id: "p.v1", policy_digest: digest("a") }];
const RUN: { policies: typeof POLICIES; bundle_digest: string; context_digest: string | null } = {
  policies: POLICIES,
  bundle_digest: digest("b"),
  context_digest: null,
};
const DEFAULTS: CompareOptions = { failOn: "block", failOnRegression: "any", allowMissing: false };

/** A case with a trace and decision digest derived from its name and verdict unless given. */
function kase(case_id: string, verdict: Verdict, rules: string[] = [], more: Partial<CaseRecord> = {}) {
  return {
    case_id,
    verdict,
    rules,
    trace_id: digest("1"),
    decision_digest: digest(String(verdict.length % 10)),
    ...more,
  };
}

const BASE = makeBaseline(RUN, [
  kase("a.json", "block", ["r.block"]),
  kase("b.json", "allow"),
  kase("c.json", "warn", ["r.warn"]),
]);

/** The comparison of BASE with a run of these cases (same policies unless given). */
const compare = (cases: CaseRecord[], opts: Partial<CompareOptions> = {}, run = RUN) =>
  compareWithBaseline(BASE, { ...run, cases }, { ...DEFAULTS, ...opts });

describe("makeBaseline", () => {
  it("keys cases by case_id with sorted rules and keeps the policies it was made with", () => {
    const b = makeBaseline(RUN, [kase("z.json", "warn", ["r2", "r1"]), kase("a.json", "allow")]);
    expect(b.schema).toBe("proof.baseline/v1");
    expect(Object.keys(b.cases)).toEqual(["a.json", "z.json"]);
    expect(b.cases["z.json"]?.rules).toEqual(["r1", "r2"]);
    expect(b.bundle_digest).toBe(RUN.bundle_digest);
    expect(b.policies).toEqual(POLICIES);
  });

  it("round-trips through its schema and refuses anything else with the file named", () => {
    expect(loadBaseline(prettyJson(BASE), "b.json")).toEqual(BASE);
    const bad = { ...BASE, cases: { "a.json": { ...BASE.cases["a.json"], verdict: "maybe" } } };
    const err = (() => {
      try {
        loadBaseline(JSON.stringify(bad), "x/baseline.json");
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ProofError);
    expect((err as ProofError).code).toBe("baseline.invalid");
    expect((err as ProofError).exitCode).toBe(6);
    expect((err as ProofError).location?.file).toBe("x/baseline.json");
    expect(() => loadBaseline('{"schema":"proof.report/v1"}', "b.json")).toThrow(/proof\.baseline\/v1/);
    expect(() => loadBaseline("{", "b.json")).toThrow(ProofError);
  });
});

describe("compareWithBaseline", () => {
  it("passes with no transitions when every case is as recorded", () => {
    const r = compare([
      kase("a.json", "block", ["r.block"]),
      kase("b.json", "allow"),
      kase("c.json", "warn", ["r.warn"]),
    ]);
    expect(r.passed).toBe(true);
    expect(r.transitions).toEqual([]);
    expect(r.summary).toMatchObject({ cases: 3, unchanged: 3, failed: 0 });
    expect(r.policy_change).toBeNull();
  });

  it("a less restrictive verdict is loosened and fails in both modes", () => {
    const cases = [
      kase("a.json", "warn", ["r.block"]),
      kase("b.json", "allow"),
      kase("c.json", "warn", ["r.warn"]),
    ];
    for (const mode of ["any", "loosened"] as const) {
      const r = compare(cases, { failOnRegression: mode });
      expect(r.passed).toBe(false);
      expect(r.transitions).toMatchObject([
        {
          case_id: "a.json",
          kind: "loosened",
          before: { verdict: "block" },
          after: { verdict: "warn" },
          fails: true,
        },
      ]);
    }
  });

  it("a more restrictive verdict is tightened: fails with any, passes with loosened", () => {
    const cases = [
      kase("a.json", "block", ["r.block"]),
      kase("b.json", "warn", ["r.warn"]),
      kase("c.json", "warn", ["r.warn"]),
    ];
    const any = compare(cases);
    expect(any.passed).toBe(false);
    expect(any.transitions).toMatchObject([{ case_id: "b.json", kind: "tightened", fails: true }]);
    const loose = compare(cases, { failOnRegression: "loosened" });
    expect(loose.passed).toBe(true);
    expect(loose.transitions).toMatchObject([{ case_id: "b.json", kind: "tightened", fails: false }]);
  });

  it("other rules with the same verdict are changed and never fail", () => {
    const r = compare([
      kase("a.json", "block", ["r.other"]),
      kase("b.json", "allow"),
      kase("c.json", "warn", ["r.warn"]),
    ]);
    expect(r.passed).toBe(true);
    expect(r.transitions).toMatchObject([
      { case_id: "a.json", kind: "changed", changes: ["rules"], fails: false },
    ]);
    expect(r.summary.changed).toBe(1);
  });

  it("a different trace with the same verdict and rules is changed (trace), not a regression", () => {
    const r = compare([
      kase("a.json", "block", ["r.block"], { trace_id: digest("9") }),
      kase("b.json", "allow"),
      kase("c.json", "warn", ["r.warn"]),
    ]);
    expect(r.passed).toBe(true);
    expect(r.transitions).toMatchObject([{ kind: "changed", changes: ["trace"] }]);
  });

  it("a missing case fails unless allowed", () => {
    const cases = [kase("a.json", "block", ["r.block"]), kase("c.json", "warn", ["r.warn"])];
    const r = compare(cases);
    expect(r.passed).toBe(false);
    expect(r.transitions).toMatchObject([{ case_id: "b.json", kind: "missing", after: null, fails: true }]);
    expect(compare(cases, { allowMissing: true }).passed).toBe(true);
  });

  it("a new case is judged by fail-on like verify", () => {
    const known = [
      kase("a.json", "block", ["r.block"]),
      kase("b.json", "allow"),
      kase("c.json", "warn", ["r.warn"]),
    ];
    const blocked = compare([...known, kase("d.json", "block", ["r.block"])]);
    expect(blocked.passed).toBe(false);
    expect(blocked.transitions).toMatchObject([
      { case_id: "d.json", kind: "new", before: null, fails: true },
    ]);
    const warned = compare([...known, kase("d.json", "warn", ["r.warn"])]);
    expect(warned.passed).toBe(true);
    expect(compare([...known, kase("d.json", "warn", ["r.warn"])], { failOn: "warn" }).passed).toBe(false);
  });

  it("a renamed case is one missing case and one new case, sorted by case id", () => {
    const r = compare([
      kase("a.json", "block", ["r.block"]),
      kase("c.json", "warn", ["r.warn"]),
      kase("b2.json", "allow"),
    ]);
    expect(r.transitions.map((t) => [t.case_id, t.kind])).toEqual([
      ["b.json", "missing"],
      ["b2.json", "new"],
    ]);
    expect(r.summary).toMatchObject({ cases: 4, missing: 1, new: 1, failed: 1 });
  });

  it("says when the policy changed and lists every verdict transition as its impact", () => {
    const run = {
      ...RUN,
      bundle_digest: digest("c"),
      policies: [{ policy_id: "p.v1", policy_digest: digest("d") }],
    };
    const r = compare(
      [
        kase("a.json", "warn", ["r.block"]),
        kase("b.json", "warn", ["r.new"]),
        kase("c.json", "warn", ["r.x"]),
      ],
      {},
      run,
    );
    expect(r.policy_change?.baseline.bundle_digest).toBe(digest("b"));
    expect(r.policy_change?.current.policies).toEqual(run.policies);
    expect(r.policy_change?.impact.map((t) => [t.case_id, t.kind])).toEqual([
      ["a.json", "loosened"],
      ["b.json", "tightened"],
    ]);
    // c.json changed rules only: a transition, but not a verdict transition.
    expect(r.transitions.map((t) => t.kind)).toEqual(["loosened", "tightened", "changed"]);
    const md = renderRegressMarkdown(r);
    expect(md.indexOf("policy changed")).toBeGreaterThan(-1);
    expect(md.indexOf("policy changed")).toBeLessThan(md.indexOf("a\\.json"));
    const term = renderRegressTerminal(r, false);
    expect(term.split("\n")[0]).toMatch(/^Policy changed since the baseline .*: 2 verdict transitions\.$/);
  });

  it("says when the context changed", () => {
    const r = compare(
      [kase("a.json", "block", ["r.block"]), kase("b.json", "allow"), kase("c.json", "warn", ["r.warn"])],
      {},
      { ...RUN, context_digest: digest("e") },
    );
    expect(r.context_change).toEqual({ baseline: null, current: digest("e") });
    expect(r.passed).toBe(true);
  });

  it("escapes case ids in the markdown section", () => {
    const r = compare([
      kase("a.json", "block", ["r.block"]),
      kase("b.json", "allow"),
      kase("c.json", "warn", ["r.warn"]),
      kase("<img src=x>|::error::x.json", "block"),
    ]);
    const md = renderRegressMarkdown(r);
    expect(md).not.toContain("<img");
    expect(md).not.toContain("::error");
    expect(md).toContain("&lt;img");
  });
});
