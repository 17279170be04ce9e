import { describe, expect, it } from "vitest";
import { decideCall } from "../../src/verify/check.js";
import { CoverageCollector, meetsMinimum } from "../../src/verify/coverage.js";
import { activate, Engine } from "../../src/verify/engine.js";
import { rules, trace } from "./helpers.js";

/** Four rules: one fully covered by the corpus below, one by provenance, one dead, one inactive. */
const payments = rules(`  - id: big_payment
    match:
      tool: [send_money]
      args: { amount: { gt: 100 } }
      condition: 'args.currency == "EUR"'
    effect: block
  - id: untrusted_payee
    match:
      tool: [send_money]
      provenance: { args: [recipient], from: untrusted }
    effect: block
  - id: never_called
    match:
      tool: [delete_all]
    effect: block
  - id: prod_only
    when: 'context.env == "prod"'
    match:
      tool: [send_money]
      args: { amount: { gt: 0 } }
    effect: warn
`);

const iban = "DE89370400440532013000";

/** Three payments, each condition's outcome worked out by hand in the test below. */
const corpus = trace([
  { user: "Pay my bills" },
  // 1: amount 50 -> big_payment args.amount false (condition not evaluated); recipient seen nowhere -> provenance false.
  {
    assistant: "",
    calls: [{ tool: "send_money", args: { amount: 50, currency: "EUR", recipient: "ACME Rent" } }],
  },
  { assistant: "", calls: [{ tool: "read_file", args: { path: "bill.txt" } }] },
  { result: `Pay to ${iban}`, tool: "read_file" },
  // 2: amount 500 true, currency USD -> condition false; recipient from the untrusted file -> provenance true (fires).
  { assistant: "", calls: [{ tool: "send_money", args: { amount: 500, currency: "USD", recipient: iban } }] },
  // 3: amount 500 true, EUR -> condition true (big_payment fires); recipient seen nowhere -> provenance false.
  {
    assistant: "",
    calls: [{ tool: "send_money", args: { amount: 500, currency: "EUR", recipient: "Bob Smith" } }],
  },
]);

const context = { env: "dev" };

function run(collector: CoverageCollector | null) {
  const engine = new Engine([payments], activate([payments], context), context, collector);
  return engine.verify(corpus);
}

describe("coverage of a tiny policy, computed by hand", () => {
  const collector = new CoverageCollector();
  run(collector);
  const c = collector.summary(60);

  it("counts, per rule, the calls evaluated and fired, and each condition's true and false outcomes", () => {
    const [policy] = c.policies;
    expect(policy?.policy_id).toBe("test.v1");
    expect(policy?.rules).toEqual([
      {
        id: "big_payment",
        active: true,
        evaluated: 3,
        fired: 1,
        errors: 0,
        conditions: [
          { condition: "args.amount", true: 2, false: 1 },
          // Call 1 stopped at args.amount: the condition was evaluated on calls 2 and 3 only.
          { condition: "condition", true: 1, false: 1 },
        ],
      },
      { id: "never_called", active: true, evaluated: 0, fired: 0, errors: 0, conditions: [] },
      {
        id: "prod_only",
        active: false,
        evaluated: 0,
        fired: 0,
        errors: 0,
        conditions: [{ condition: "args.amount", true: 0, false: 0 }],
      },
      {
        id: "untrusted_payee",
        active: true,
        evaluated: 3,
        fired: 1,
        errors: 0,
        conditions: [{ condition: "provenance.recipient", true: 1, false: 2 }],
      },
    ]);
  });

  it("gives the percentages: 8 of 12 outcomes, 2 of 4 rules, 6 of 8 condition outcomes", () => {
    // Outcomes: big_payment 1 + 2 + 2, untrusted_payee 1 + 2, never_called 0 of 1, prod_only 0 of 1 + 2.
    expect(c.outcomes).toEqual({ covered: 8, total: 12, percent: 66.66 });
    expect(c.rules).toEqual({ covered: 2, total: 4, percent: 50 });
    expect(c.conditions).toEqual({ covered: 6, total: 8, percent: 75 });
    expect(c.tool_calls).toBe(4);
  });

  it("lists the rules that never fired as dead, and judges the threshold", () => {
    expect(c.dead).toEqual(["never_called", "prod_only"]);
    expect(c.min_percent).toBe(60);
    expect(c.passed).toBe(true);
    expect(collector.summary(66.67).passed).toBe(false);
    expect(collector.summary(null).passed).toBe(true);
  });

  it("does not change a single decision", () => {
    expect(run(new CoverageCollector())).toEqual(run(null));
  });
});

describe("sequence clauses", () => {
  const seq = rules(`  - id: confirm
    match:
      tool: [book]
      sequence:
        require_before: { role: user, content: { matches: '(?i)\\byes\\b' } }
    effect: require_approval
  - id: no_delete_after_read
    match:
      tool: [delete]
      sequence:
        forbid_before: { tool: [read_secret] }
    effect: block
  - id: at_most_two
    match:
      tool: [search]
      sequence:
        max_calls: { count: 2, per: trace }
    effect: warn
`);
  const t = trace([
    { user: "book it" },
    { assistant: "", calls: [{ tool: "book" }, { tool: "delete" }, { tool: "search" }] },
    { user: "yes" },
    { assistant: "", calls: [{ tool: "book" }, { tool: "read_secret" }] },
    { assistant: "", calls: [{ tool: "delete" }, { tool: "search" }, { tool: "search" }] },
  ]);

  it("records require_before (true: required event absent), forbid_before (true: present) and max_calls", () => {
    const collector = new CoverageCollector();
    new Engine([seq], activate([seq], {}), {}, collector).verify(t);
    const byId = Object.fromEntries((collector.summary().policies[0]?.rules ?? []).map((r) => [r.id, r]));
    expect(byId.confirm?.conditions).toEqual([{ condition: "sequence.require_before", true: 1, false: 1 }]);
    expect(byId.no_delete_after_read?.conditions).toEqual([
      { condition: "sequence.forbid_before", true: 1, false: 1 },
    ]);
    expect(byId.at_most_two?.conditions).toEqual([{ condition: "sequence.max_calls", true: 1, false: 2 }]);
    expect(collector.summary().outcomes).toEqual({ covered: 9, total: 9, percent: 100 });
  });
});

describe("decideCall under coverage", () => {
  it("covers the decided call only, not the calls before it", () => {
    const collector = new CoverageCollector();
    const engine = new Engine([payments], activate([payments], context), context, collector);
    const prior = trace([
      { user: "Pay" },
      { assistant: "", calls: [{ tool: "send_money", args: { amount: 50, recipient: "ACME Rent" } }] },
    ]);
    decideCall(
      engine,
      { tool: "send_money", args: { amount: 500, currency: "EUR", recipient: "x" } },
      prior,
      "c",
    );
    const big = collector.summary().policies[0]?.rules.find((r) => r.id === "big_payment");
    expect(big?.evaluated).toBe(1);
    expect(big?.conditions).toEqual([
      { condition: "args.amount", true: 1, false: 0 },
      { condition: "condition", true: 1, false: 0 },
    ]);
  });
});

describe("meetsMinimum", () => {
  it("compares exactly, not on the floored percentage", () => {
    expect(meetsMinimum({ covered: 2, total: 3 }, 66.67)).toBe(false);
    expect(meetsMinimum({ covered: 2, total: 3 }, 66.66)).toBe(true);
    expect(meetsMinimum({ covered: 1, total: 1 }, 100)).toBe(true);
    expect(meetsMinimum({ covered: 0, total: 0 }, 100)).toBe(true);
  });
});
