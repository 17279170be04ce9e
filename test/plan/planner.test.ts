import { describe, expect, it } from "vitest";
import { digestOf } from "../../src/io/canonical.js";
import { planRules } from "../../src/plan/planner.js";
import { basicSelector, weightedSelector } from "../../src/plan/select.js";
import { parseWeights } from "../../src/plan/weights.js";
import { compilePolicy } from "../../src/policy/compile.js";
import { compileIR } from "../../src/verify/compiled.js";

const POLICY = `
schema: proof.policy/v1
policy_id: t.v1
rules:
  - id: zeta
    when: 'context.env == "prod"'
    match: { tool: a }
    effect: block
    cost: 1
  - id: alpha
    match: { tool: a }
    effect: warn
    cost: 1
  - id: mid
    when: 'context.tier > 2'
    match: { tool: b }
    effect: block
    cost: 0
  - id: broken
    when: 'context.missing.field == 1'
    match: { tool: c }
    effect: block
    cost: 5
  - id: off
    when: 'context.env == "staging"'
    match: { tool: d }
    effect: block
`;

const policy = compileIR(compilePolicy(POLICY, "t.yaml"));

describe("planner", () => {
  it("activates rules whose when is true or absent, keeps failing ones active, skips false ones", () => {
    const context = { env: "prod", tier: 3 };
    const { plan, selection } = planRules(policy, context, digestOf(context), basicSelector);
    expect(plan.active_rules).toEqual(["alpha", "broken", "mid", "zeta"]);
    expect(plan.reason).toEqual({
      alpha: ["when:absent"],
      broken: ["when:error"],
      mid: ["when:true"],
      zeta: ["when:true"],
    });
    expect(plan.skipped).toEqual([{ rule: "off", reason: "when:false" }]);
    expect(selection.failures).toBe(1);
    expect(selection.warnings).toHaveLength(1);
    expect(selection.warnings[0]).toContain("broken");
  });

  it("orders by cost, then by rule id in code-unit order", () => {
    const context = { env: "prod", tier: 3 };
    const { plan } = planRules(policy, context, digestOf(context), basicSelector);
    expect(plan.order).toEqual(["mid", "alpha", "zeta", "broken"]);
    expect(plan.cost_sum).toBe(0 + 1 + 1 + 5);
  });

  it("weighted takes costs from the weights, falling back to the IR, ties broken by id", () => {
    const context = { env: "prod", tier: 3 };
    const weights = parseWeights("zeta: 0\nbroken: 0\n", "w.yaml", new Set(policy.ir.rules.map((r) => r.id)));
    const { plan } = planRules(policy, context, digestOf(context), weightedSelector(weights));
    expect(plan.selector).toBe("weighted");
    expect(plan.cost).toEqual({ alpha: 1, broken: 0, mid: 0, zeta: 0 });
    expect(plan.order).toEqual(["broken", "mid", "zeta", "alpha"]);
  });

  it("orders hundreds of rules as a stable sort by cost would, whatever the weights", () => {
    const ids = Array.from({ length: 300 }, (_, i) => `r${String(i).padStart(3, "0")}`);
    const many = compileIR(
      compilePolicy(
        [
          "schema: proof.policy/v1",
          "policy_id: many.v1",
          "rules:",
          ...ids.flatMap((id, i) => [
            `  - id: ${id}`,
            // A third share one failing predicate: each gets its warning, the message redacted alike.
            ...(i % 3 === 0 ? ["    when: 'context.missing.field == 1'"] : []),
            "    match: { tool: a }",
            "    effect: warn",
            `    cost: ${i % 4}`,
          ]),
        ].join("\n"),
        "many.yaml",
      ),
    );
    const known = new Set(ids);
    for (let seed = 1; seed <= 20; seed++) {
      const weights = parseWeights(
        ids.map((id, i) => `${id}: ${(i * seed * 7919) % 5}`).join("\n"),
        "w.yaml",
        known,
      );
      const context = { seed };
      const { plan, selection } = planRules(many, context, digestOf(context), weightedSelector(weights));
      const reference = ids
        .map((id) => ({ id, cost: weights[id] as number }))
        .sort((a, b) => a.cost - b.cost || (a.id < b.id ? -1 : 1))
        .map((r) => r.id);
      expect(plan.order).toEqual(reference);
      expect(Object.keys(plan.cost)).toEqual(ids);
      expect(JSON.parse(JSON.stringify(plan.reason))).toEqual(
        Object.fromEntries(ids.map((id, i) => [id, [i % 3 === 0 ? "when:error" : "when:absent"]])),
      );
      expect(selection.warnings).toHaveLength(100);
      expect(new Set(selection.warnings.map((w) => w.replace(/^rule r\d+: /, ""))).size).toBe(1);
    }
  });

  it("gives the same plan for the same inputs, and a different context digest for another context", () => {
    const a = { env: "prod", tier: 3 };
    const b = { tier: 3, env: "prod" };
    const p1 = planRules(policy, a, digestOf(a), basicSelector).plan;
    const p2 = planRules(policy, b, digestOf(b), basicSelector).plan;
    expect(p2).toEqual(p1);
    const c = { env: "dev", tier: 3 };
    expect(planRules(policy, c, digestOf(c), basicSelector).plan.context_digest).not.toBe(p1.context_digest);
  });

  it("refuses weights that are negative, fractional, not numbers, or for unknown rules", () => {
    const ids = new Set(policy.ir.rules.map((r) => r.id));
    expect(() => parseWeights("zeta: -1\n", "w.yaml", ids)).toThrow(/non-negative integer/);
    expect(() => parseWeights("zeta: 1.5\n", "w.yaml", ids)).toThrow(/non-negative integer/);
    expect(() => parseWeights('zeta: "2"\n', "w.yaml", ids)).toThrow(/non-negative integer/);
    expect(() => parseWeights("nope: 2\n", "w.yaml", ids)).toThrow(/unknown rule id 'nope'/);
    expect(() => parseWeights("- 1\n", "w.yaml", ids)).toThrow(/map of rule ids/);
    try {
      parseWeights("zeta: 1\nalpha: -3\n", "w.yaml", ids);
      expect.unreachable();
    } catch (err) {
      expect((err as { location: unknown }).location).toEqual({ file: "w.yaml", line: 2, column: 8 });
    }
  });
});

describe("warnings never carry context values", () => {
  it("redacts the values CEL quotes in its error messages", () => {
    const p = compileIR(
      compilePolicy(
        `schema: proof.policy/v1
policy_id: r.v1
rules:
  - id: convert
    when: 'int(context.account) > 1'
    match: { tool: a }
    effect: block
  - id: lookup
    when: 'context.limits[context.region] > 1'
    match: { tool: a }
    effect: block
`,
        "r.yaml",
      ),
    );
    const context = { account: "acct-7731-secret", region: "eu-central-secret", limits: {} };
    const { selection } = planRules(p, context, digestOf(context), basicSelector);
    expect(selection.warnings).toHaveLength(2);
    for (const w of selection.warnings) {
      expect(w).not.toContain("secret");
      expect(w).toContain("<redacted>");
    }
  });
});
