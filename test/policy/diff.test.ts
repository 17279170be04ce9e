import { describe, expect, it } from "vitest";
import { digestOf } from "../../src/io/canonical.js";
import { compilePolicy } from "../../src/policy/compile.js";
import { diffPolicies, impactOf, loosens, type PolicyDiff } from "../../src/policy/diff.js";
import { diffMarkdown, diffText } from "../../src/report/diff.js";

/** A policy with two rules; `extra` is appended to the rule list, `payment` replaces the payment rule's body. */
function policy(
  options: { payment?: string; extra?: string; order?: "normal" | "reversed"; defaults?: string } = {},
) {
  const payment = `  - id: large_payment
    match:
      tool: [send_money]
      args:
        amount: { gt: 1000 }
        currency: { in: [EUR, USD] }
${options.payment ?? "    effect: require_approval"}
    severity: high
    reason: large_payment
`;
  const wipe = `  - id: no_wipe
    match:
      tool: [delete_all]
    effect: block
    severity: critical
    reason: destructive
`;
  const rules = options.order === "reversed" ? wipe + payment : payment + wipe;
  return `schema: proof.policy/v1
policy_id: demo.v1
defaults:
  verdict: ${options.defaults ?? "allow"}
  fail_closed: true
rules:
${rules}${options.extra ?? ""}`;
}

function diffOf(before: string, after: string): PolicyDiff {
  const a = compilePolicy(before, "old.yaml");
  const b = compilePolicy(after, "new.yaml");
  return diffPolicies([a], [b], digestOf([a.policy_digest]), digestOf([b.policy_digest]));
}

describe("diffPolicies", () => {
  it("says a reordered but equal policy has no semantic change, with the same digest", () => {
    const before = policy();
    const after = policy({ order: "reversed" });
    expect(after).not.toBe(before);
    const diff = diffOf(before, after);
    expect(diff.same).toBe(true);
    expect(diff.old_bundle_digest).toBe(diff.new_bundle_digest);
    expect(diff.rules).toEqual([]);
    expect(diffText(diff, null)).toMatch(/^no semantic change \(bundle sha256:[0-9a-f]{64}\)/);
    expect(loosens(diff, null)).toBe(false);
  });

  it("classifies a weaker effect as loosening, with before and after", () => {
    const diff = diffOf(policy(), policy({ payment: "    effect: warn" }));
    expect(diff.same).toBe(false);
    expect(diff.rules).toHaveLength(1);
    const [rule] = diff.rules;
    expect(rule?.rule).toBe("large_payment");
    expect(rule?.status).toBe("changed");
    expect(rule?.direction).toBe("loosening");
    expect(rule?.changes).toEqual([
      { field: "effect", before: "require_approval", after: "warn", scope: "none" },
    ]);
    expect(loosens(diff, null)).toBe(true);
    expect(diffText(diff, null)).toContain('effect: "require_approval" -> "warn"');
  });

  it("classifies a stronger effect as tightening", () => {
    const diff = diffOf(policy(), policy({ payment: "    effect: block" }));
    expect(diff.rules[0]?.direction).toBe("tightening");
    expect(diff.summary).toMatchObject({ changed: 1, loosening: 0, tightening: 1 });
    expect(loosens(diff, null)).toBe(false);
  });

  it("a removed blocking rule loosens; an added one tightens", () => {
    const withExtra = policy({
      extra: `  - id: no_exfil
    match:
      tool: [http_post]
    effect: block
    severity: high
    reason: exfiltration
`,
    });
    const removed = diffOf(withExtra, policy());
    expect(removed.rules.map((r) => [r.rule, r.status, r.direction])).toEqual([
      ["no_exfil", "removed", "loosening"],
    ]);
    expect(removed.rules[0]?.before?.effect).toBe("block");
    const added = diffOf(policy(), withExtra);
    expect(added.rules.map((r) => [r.rule, r.status, r.direction])).toEqual([
      ["no_exfil", "added", "tightening"],
    ]);
    expect(added.summary).toMatchObject({ added: 1, removed: 0, tightening: 1 });
  });

  it("an added allow rule loosens a block-by-default policy", () => {
    const allow = `  - id: reads_ok
    match:
      tool: [read_file]
    effect: allow
    severity: low
    reason: read_only
`;
    const diff = diffOf(policy({ defaults: "block" }), policy({ defaults: "block", extra: allow }));
    expect(diff.rules[0]?.direction).toBe("loosening");
  });

  it("decides a threshold and an `in` set, in both directions", () => {
    const higher = policy({
      payment: "    effect: require_approval",
    }).replace("gt: 1000", "gt: 5000");
    expect(diffOf(policy(), higher).rules[0]).toMatchObject({
      direction: "loosening",
      changes: [{ field: "match.args.amount", scope: "narrower" }],
    });
    expect(diffOf(higher, policy()).rules[0]?.direction).toBe("tightening");
    const wider = policy().replace("in: [EUR, USD]", "in: [CHF, EUR, USD]");
    expect(diffOf(policy(), wider).rules[0]).toMatchObject({
      direction: "tightening",
      changes: [{ field: "match.args.currency", scope: "wider" }],
    });
    expect(diffOf(wider, policy()).rules[0]?.direction).toBe("loosening");
  });

  it("says 'direction unknown' for a changed CEL condition or an incomparable set", () => {
    const withCel = (expr: string) =>
      policy({ payment: `      condition: '${expr}'\n    effect: require_approval` });
    const a = withCel("args.amount > 1.0");
    const b = withCel("args.amount < 9.0");
    const diff = diffOf(a, b);
    expect(diff.rules[0]).toMatchObject({
      direction: "unknown",
      changes: [{ field: "match.condition", scope: "unknown" }],
    });
    expect(diffText(diff, null)).toContain("changed, direction unknown");
    const swapped = policy().replace("in: [EUR, USD]", "in: [CHF, GBP]");
    expect(diffOf(policy(), swapped).rules[0]?.direction).toBe("unknown");
    expect(loosens(diffOf(policy(), swapped), null)).toBe(false);
  });

  it("orders provenance levels: injected within untrusted within unknown", () => {
    const prov = (from: string) =>
      policy({
        extra: `  - id: payee
    match:
      tool: [send_money]
      provenance: { args: [recipient], from: ${from} }
    effect: block
`,
      });
    const direction = (a: string, b: string) =>
      diffOf(prov(a), prov(b)).rules.find((r) => r.rule === "payee")?.direction;
    // A blocking rule that matches fewer calls loosens the policy.
    expect(direction("untrusted", "injected")).toBe("loosening");
    expect(direction("injected", "untrusted")).toBe("tightening");
    expect(direction("injected", "unknown")).toBe("tightening");
    expect(direction("unknown", "untrusted")).toBe("loosening");
  });

  it("reports a default verdict change at policy level", () => {
    const diff = diffOf(policy({ defaults: "warn" }), policy({ defaults: "allow" }));
    expect(diff.policies).toEqual([
      {
        policy: "demo.v1",
        status: "changed",
        direction: "loosening",
        changes: [{ field: "defaults.verdict", before: "warn", after: "allow", scope: "none" }],
      },
    ]);
    expect(diff.rules).toEqual([]);
  });
});

describe("impactOf", () => {
  it("lists every verdict transition, sorted, and a loosened case fails --fail-on-loosening", () => {
    const before = [
      { case_id: "b", verdict: "block" as const, rules: ["no_wipe"] },
      { case_id: "a", verdict: "allow" as const, rules: [] },
      { case_id: "c", verdict: "warn" as const, rules: ["x"] },
    ];
    const after = [
      { case_id: "a", verdict: "require_approval" as const, rules: ["large_payment"] },
      { case_id: "b", verdict: "allow" as const, rules: [] },
      { case_id: "c", verdict: "warn" as const, rules: ["y"] },
    ];
    const impact = impactOf(before, after);
    expect(impact).toMatchObject({ cases: 3, loosened: 1, tightened: 1 });
    expect(impact.transitions.map((t) => [t.case_id, t.kind, t.before.verdict, t.after.verdict])).toEqual([
      ["a", "tightened", "allow", "require_approval"],
      ["b", "loosened", "block", "allow"],
    ]);
    const same = diffOf(policy(), policy());
    expect(loosens(same, impact)).toBe(true);
    expect(loosens(same, impactOf(before, before))).toBe(false);
  });

  it("escapes case ids in markdown and in the terminal", () => {
    const impact = impactOf(
      [{ case_id: "x|::error::pwned<b>", verdict: "block", rules: [] }],
      [{ case_id: "x|::error::pwned<b>", verdict: "allow", rules: [] }],
    );
    const diff = diffOf(policy(), policy());
    const md = diffMarkdown(diff, impact);
    expect(md).not.toContain("<b>");
    expect(md).not.toContain("x|");
    expect(diffText(diff, impact)).not.toContain("::error::");
  });
});
