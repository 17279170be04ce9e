import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { digestOf } from "../../src/io/canonical.js";
import { activationFromPlan } from "../../src/plan/activation.js";
import { checkPlanSelection } from "../../src/plan/load-plan.js";
import type { Plan } from "../../src/plan/plan.js";
import { planRules } from "../../src/plan/planner.js";
import { basicSelector, weightedSelector } from "../../src/plan/select.js";
import { compilePolicy } from "../../src/policy/compile.js";
import { TraceBuilder } from "../../src/trace/builder.js";
import type { Trace } from "../../src/trace/model.js";
import { compileIR } from "../../src/verify/compiled.js";
import { activate, Engine } from "../../src/verify/engine.js";

const dir = mkdtempSync(join(tmpdir(), "proof-plan-prop-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const WHENS = [
  undefined,
  'context.env == "prod"',
  "context.tier > 1",
  'context.env in ["dev", "prod"] && context.tier < 3',
  "context.missing.x == 1",
];

const ruleArb = fc.record({
  tool: fc.constantFrom("t1", "t2", "t3"),
  when: fc.constantFrom(...WHENS),
  args: fc.option(fc.oneof(fc.constant({ n: { gt: 4 } }), fc.constant({ s: { eq: "x" } })), {
    nil: undefined,
  }),
  sequence: fc.option(
    fc.oneof(
      fc.constant({ require_before: { role: "user", content: { matches: "(?i)\\bok\\b" } } }),
      fc.constant({ max_calls: { count: 1, per: "turn" } }),
    ),
    { nil: undefined },
  ),
  condition: fc.option(fc.constant("args.n < 8"), { nil: undefined }),
  effect: fc.constantFrom("allow", "warn", "require_approval", "block"),
  cost: fc.integer({ min: 0, max: 3 }),
});

const eventArb = fc.oneof(
  fc.record({ kind: fc.constant("user" as const), text: fc.constantFrom("ok go", "no", "OK") }),
  fc.record({
    kind: fc.constant("call" as const),
    tool: fc.constantFrom("t1", "t2", "t3"),
    n: fc.integer({ min: 0, max: 9 }),
    s: fc.constantFrom("x", "y"),
  }),
);

function policyYaml(id: string, rules: Record<string, unknown>[]): string {
  return stringify({ schema: "proof.policy/v1", policy_id: id, rules });
}

type RawRule = typeof ruleArb extends fc.Arbitrary<infer T> ? T : never;

function toRules(rules: RawRule[]): Record<string, unknown>[] {
  return rules.map((r, i) => {
    const match: Record<string, unknown> = { tool: r.tool };
    if (r.args) match.args = r.args;
    if (r.sequence) match.sequence = r.sequence;
    if (r.condition) match.condition = r.condition;
    const rule: Record<string, unknown> = { id: `rule_${i}`, match, effect: r.effect, cost: r.cost };
    if (r.when) rule.when = r.when;
    return rule;
  });
}

function buildTrace(
  events: { kind: string; text?: string; tool?: string; n?: number; s?: string }[],
  n: number,
): Trace {
  const b = new TraceBuilder();
  for (const [i, e] of events.entries()) {
    if (e.kind === "user") b.message("user", e.text ?? "", `[${i}]`);
    else {
      const m = b.message("assistant", "", `[${i}]`);
      b.toolCall(m, `c${i}`, e.tool ?? "", { n: e.n ?? 0, s: e.s ?? "" }, `[${i}].tool_calls[0]`);
      b.toolResult(`c${i}`, e.tool ?? null, "done", null, `[${i}].result`);
    }
  }
  return b.build(`case_${n}`, "openai", `case_${n}.json`);
}

describe("verify with a plan", () => {
  it("gives the verdicts of a policy holding only the plan's active rules, compiled on its own", () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb, { minLength: 1, maxLength: 7 }),
        fc.record({ env: fc.constantFrom("prod", "dev"), tier: fc.integer({ min: 0, max: 3 }) }),
        fc.array(fc.array(eventArb, { minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        (rawRules, context, traceEvents, weighted) => {
          const rules = toRules(rawRules);
          // Path 1: the whole policy, planned for the context, verified with the plan.
          const full = join(dir, "full.yaml");
          writeFileSync(full, policyYaml("full.v1", rules));
          const policy = compileIR(compilePolicy(readFileSync(full, "utf8"), full));
          const weights = Object.fromEntries(rules.map((r, i) => [r.id as string, (i * 7) % 4]));
          const selector = weighted ? weightedSelector(weights) : basicSelector;
          const { plan } = planRules(policy, context, digestOf(context), selector);
          const planned = new Engine([policy], activationFromPlan(plan), context);

          // Path 2: a second policy file with only the active rules and no `when`, verified plainly.
          const active = new Set(plan.active_rules);
          const subset = rules.filter((r) => active.has(r.id as string)).map(({ when: _w, ...r }) => r);
          const part = join(dir, "subset.yaml");
          writeFileSync(part, policyYaml("full.v1", subset));
          const subsetPolicy = compileIR(compilePolicy(readFileSync(part, "utf8"), part));
          const plain = new Engine([subsetPolicy], activate([subsetPolicy], context), context);

          for (const [n, events] of traceEvents.entries()) {
            const trace = buildTrace(events, n);
            const a = planned.verify(trace);
            const b = plain.verify(trace);
            expect(a.verdict).toBe(b.verdict);
            expect(a.decisions.map((d) => [d.seq, d.verdict, d.rules])).toEqual(
              b.decisions.map((d) => [d.seq, d.verdict, d.rules]),
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("a plan checked against its policy and context", () => {
  it("passes as the planner made it, and is refused once a rule moves between active and skipped", () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb, { minLength: 1, maxLength: 7 }),
        fc.record({ env: fc.constantFrom("prod", "dev"), tier: fc.integer({ min: 0, max: 3 }) }),
        fc.boolean(),
        fc.nat(),
        (rawRules, context, weighted, pick) => {
          const rules = toRules(rawRules);
          const file = join(dir, "checked.yaml");
          writeFileSync(file, policyYaml("checked.v1", rules));
          const policy = compileIR(compilePolicy(readFileSync(file, "utf8"), file));
          const weights = Object.fromEntries(rules.map((r, i) => [r.id as string, (i * 5) % 3]));
          const selector = weighted ? weightedSelector(weights) : basicSelector;
          const digest = digestOf(context);
          const { plan } = planRules(policy, context, digest, selector);
          checkPlanSelection(plan, "plan.json", policy, context, digest);

          // Flip one rule: an active one is skipped, or a skipped one made active.
          const id = rules[pick % rules.length]?.id as string;
          const edited: Plan = structuredClone(plan);
          if (edited.active_rules.includes(id)) {
            edited.active_rules = edited.active_rules.filter((r) => r !== id);
            edited.order = edited.order.filter((r) => r !== id);
            edited.cost_sum -= edited.cost[id] ?? 0;
            delete edited.cost[id];
            delete edited.reason[id];
            edited.skipped = [...edited.skipped, { rule: id, reason: "when:false" as const }].sort((a, b) =>
              a.rule < b.rule ? -1 : 1,
            );
          } else {
            edited.skipped = edited.skipped.filter((s) => s.rule !== id);
            edited.active_rules = [...edited.active_rules, id].sort();
            edited.order = [...edited.order, id];
            edited.cost[id] = 0;
            edited.reason[id] = ["when:true"];
          }
          expect(() => checkPlanSelection(edited, "plan.json", policy, context, digest)).toThrow(
            expect.objectContaining({
              code: "plan.mismatch",
              message: expect.stringContaining(`rule ${id} `),
            }),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
