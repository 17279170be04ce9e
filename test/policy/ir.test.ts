import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProofError } from "../../src/errors.js";
import { validateIR } from "../../src/generated/validators.js";
import { canonicalJson, prettyJson, sha256Hex } from "../../src/io/canonical.js";
import { buildToolIndex, compilePolicy, policyDigest } from "../../src/policy/compile.js";
import type { ProofIR } from "../../src/policy/ir.js";
import { loadIR } from "../../src/policy/load-ir.js";

const EXAMPLES = new URL("../../examples/policies/", import.meta.url);
// The policies, not their unit tests (`*.test.yaml`), as a policy directory is read.
const examples = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith(".yaml") && !f.endsWith(".test.yaml"))
  .sort();

function compileExample(name: string): ProofIR {
  return compilePolicy(readFileSync(new URL(name, EXAMPLES), "utf8"), `examples/policies/${name}`);
}

function yaml(...lines: string[]): string {
  return `${lines.join("\n")}\n`;
}

/** Loads IR text that must be refused and returns the error. */
function loadFailure(text: string): ProofError {
  try {
    loadIR(text, "ir.json");
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    return err as ProofError;
  }
  throw new Error("the IR loaded, but it should have been refused");
}

describe("IR of the example policies", () => {
  it("finds the examples", () => {
    expect(examples.length).toBeGreaterThanOrEqual(3);
  });

  it.each(examples)("%s compiles to an IR that validates and round-trips with the same digest", (name) => {
    const ir = compileExample(name);
    expect(validateIR(ir)).toBe(true);
    expect(ir.policy_digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(policyDigest(ir)).toBe(ir.policy_digest);
    for (const text of [JSON.stringify(ir), prettyJson(ir), canonicalJson(ir)]) {
      const loaded = loadIR(text, "ir.json");
      expect(loaded.policy_digest).toBe(ir.policy_digest);
      expect(canonicalJson(loaded)).toBe(canonicalJson(ir));
    }
  });

  it.each(examples)("%s compiles to the same IR twice", (name) => {
    expect(canonicalJson(compileExample(name))).toBe(canonicalJson(compileExample(name)));
  });

  it("gives each example its own digest", () => {
    const digests = examples.map((name) => compileExample(name).policy_digest);
    expect(new Set(digests).size).toBe(examples.length);
  });

  it("computes the digest as SHA-256 over the canonical JSON of the semantic part", () => {
    const ir = compileExample("agentdojo-banking.yaml");
    const { policy_digest: _d, compiler: _c, description: _desc, ...rest } = ir;
    const semantic = { ...rest, rules: ir.rules.map(({ description: _rd, ...r }) => r) };
    expect(ir.policy_digest).toBe(`sha256:${sha256Hex(canonicalJson(semantic))}`);
  });
});

describe("loadIR", () => {
  const ir = compileExample("agentdojo-banking.yaml");
  const edit = (change: (copy: ProofIR) => void): string => {
    const copy = JSON.parse(JSON.stringify(ir)) as ProofIR;
    change(copy);
    return JSON.stringify(copy);
  };

  it("refuses an IR whose effect was edited under the old digest", () => {
    const text = edit((copy) => {
      const rule = copy.rules.find((r) => r.id === "banking.large_payment");
      if (!rule) throw new Error("example rule missing");
      expect(rule.effect).toBe("require_approval");
      rule.effect = "allow";
    });
    const err = loadFailure(text);
    expect(err.code).toBe("ir.digest_mismatch");
    expect(err.exitCode).toBe(6);
    expect(err.location).toEqual({ file: "ir.json" });
    expect(err.message).toContain(ir.policy_digest);
  });

  it.each<[string, (copy: ProofIR) => void]>([
    [
      "a default verdict",
      (c) => {
        c.defaults.verdict = "block";
      },
    ],
    [
      "fail_closed",
      (c) => {
        c.defaults.fail_closed = false;
      },
    ],
    [
      "a source integrity",
      (c) => {
        const source = c.sources[0] as ProofIR["sources"][0];
        source.integrity = source.integrity === "untrusted" ? "trusted" : "untrusted";
      },
    ],
    ["a rule's tools", (c) => void c.rules[0]?.match.tools.push("transfer_all")],
    [
      "the tool index",
      (c) => {
        c.tool_index.exact.send_money = [];
      },
    ],
    [
      "the policy id",
      (c) => {
        c.policy_id = "other.v1";
      },
    ],
    ["a removed rule", (c) => void c.rules.pop()],
  ])("refuses an IR whose %s was edited under the old digest", (_what, change) => {
    expect(loadFailure(edit(change)).code).toBe("ir.digest_mismatch");
  });

  it("accepts an IR whose descriptions and compiler version changed: they are not semantic", () => {
    const text = edit((copy) => {
      copy.compiler = "proof/99.0.0";
      copy.description = "rewritten";
      for (const rule of copy.rules) rule.description = "rewritten too";
      delete copy.rules[0]?.description;
    });
    expect(loadIR(text, "ir.json").policy_digest).toBe(ir.policy_digest);
  });

  /** An edit made with the digest recomputed, as someone editing an IR by hand could. */
  const redigested = (change: (copy: ProofIR) => void): string =>
    edit((copy) => {
      change(copy);
      copy.policy_digest = policyDigest(copy);
    });

  it("refuses a tool index that disagrees with the rules, even under a recomputed digest", () => {
    // Dropping a rule from the index would turn it off: the engine looks rules up through it.
    const dropped = redigested((copy) => {
      expect(copy.tool_index.exact.send_money?.length).toBeGreaterThan(0);
      copy.tool_index.exact.send_money = [];
    });
    const err = loadFailure(dropped);
    expect(err.code).toBe("ir.invalid");
    expect(err.exitCode).toBe(6);
    expect(err.location).toEqual({ file: "ir.json" });
    expect(err.message).toMatch(
      /tool_index does not match the rules \(first difference: exact\["send_money"\]\)/,
    );
    const extra = redigested((copy) => {
      copy.tool_index.exact.ghost_tool = ["banking.large_payment"];
    });
    expect(loadFailure(extra).message).toMatch(/first difference: exact\["ghost_tool"\]/);
    const patterns = redigested((copy) => {
      copy.tool_index.patterns.push("banking.large_payment");
    });
    expect(loadFailure(patterns).message).toMatch(/first difference: patterns/);
    // And the index the compiler writes is accepted.
    expect(
      loadIR(
        redigested(() => {}),
        "ir.json",
      ).policy_digest,
    ).toBe(ir.policy_digest);
  });

  it.each<[string, (copy: ProofIR) => void, RegExp]>([
    [
      "a comparison given a string",
      (c) => {
        (c.rules[0] as ProofIR["rules"][0]).match.args = [
          { path: "amount", conditions: [{ op: "gt", value: "x" }] },
        ];
      },
      /'gt' compares numbers, but its operand is string/,
    ],
    [
      "a comparison in a sequence pattern given null",
      (c) => {
        (c.rules[0] as ProofIR["rules"][0]).match.sequence = {
          require_before: { content: [{ op: "lte", value: null }] },
        };
      },
      /match\.sequence\.require_before\.content: 'lte' compares numbers, but its operand is null/,
    ],
    [
      "a cost too large to sum",
      (c) => {
        (c.rules[0] as ProofIR["rules"][0]).cost = 1.5e308;
      },
      /cost must be an integer from 0 to 1000000000, not 1\.5e\+308/,
    ],
    [
      "a fractional cost",
      (c) => {
        (c.rules[0] as ProofIR["rules"][0]).cost = 0.5;
      },
      /cost must be an integer/,
    ],
  ])("refuses %s under a recomputed digest", (_what, change, message) => {
    const err = loadFailure(redigested(change));
    expect(err.code).toBe("ir.invalid");
    expect(err.message).toMatch(message);
  });

  it("refuses a file that is not an IR", () => {
    const missing = edit((copy) => {
      delete (copy as Partial<ProofIR>).tool_index;
    });
    const err = loadFailure(missing);
    expect(err.code).toBe("ir.invalid");
    expect(err.message).toMatch(/tool_index/);
    const badEffect = edit((copy) => {
      (copy.rules[0] as ProofIR["rules"][0]).effect = "deny" as never;
    });
    expect(loadFailure(badEffect).code).toBe("ir.invalid");
  });
});

describe("normalisation", () => {
  const ir = compilePolicy(
    yaml(
      "schema: proof.policy/v1",
      "policy_id: norm.v1",
      "rules:",
      "  - id: zeta",
      "    match: { tool: [b_tool, a_tool, b_tool] }",
      "    effect: warn",
      "  - id: alpha.one",
      "    match:",
      "      tool: get_*",
      "      args:",
      "        z: { in: [3, b, 1, a, 3, b, 1.0, [2, 1], { k: 1 }] }",
      "        a: { matches: '^x', eq: [2, 1], gt: 1, exists: true }",
      "      provenance: { args: [to, cc, to], from: untrusted }",
      "      sequence:",
      "        max_calls: { count: 3 }",
      "      condition: '(args.a>1)&&tool==\"get_x\"'",
      "    effect: block",
      "  - id: beta-9",
      "    match: { tool: [a_tool] }",
      "    effect: allow",
      "  - id: 9.lives",
      "    match: {}",
      "    effect: warn",
      "  - id: 1-2",
      "    match: {}",
      "    effect: warn",
    ),
    "norm.yaml",
  );
  const rule = (id: string) => {
    const found = ir.rules.find((r) => r.id === id);
    if (!found) throw new Error(`no rule ${id}`);
    return found;
  };

  it("sorts rules by id in code-unit order", () => {
    expect(ir.rules.map((r) => r.id)).toEqual(["1-2", "9.lives", "alpha.one", "beta-9", "zeta"]);
  });

  it("fills the policy defaults", () => {
    expect(ir.defaults).toEqual({ verdict: "allow", fail_closed: true });
    expect(ir.sources).toEqual([]);
  });

  it("fills rule defaults: cost 1, severity medium, a reason derived from the id", () => {
    expect(rule("alpha.one")).toMatchObject({ cost: 1, severity: "medium", reason: "alpha_one" });
    expect(rule("beta-9").reason).toBe("beta_9");
    // Reasons must start with a letter: leading digits and separators are dropped...
    expect(rule("9.lives").reason).toBe("lives");
    // ...and an id with no letter at all falls back to a fixed code.
    expect(rule("1-2").reason).toBe("rule");
    expect(rule("alpha.one").match.sequence?.max_calls).toEqual({ count: 3, per: "turn" });
  });

  it("derives a valid reason code from any valid rule id", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9_.-]{1,12}$/), (id) => {
        const compiled = compilePolicy(
          yaml(
            "schema: proof.policy/v1",
            "policy_id: p",
            "rules:",
            `  - { id: '${id}', match: {}, effect: warn }`,
          ),
          "p.yaml",
        );
        expect(compiled.rules[0]?.reason).toMatch(/^[a-z][a-z0-9_]*$/);
      }),
    );
  });

  it("sorts and de-duplicates tool lists", () => {
    expect(rule("zeta").match.tools).toEqual(["a_tool", "b_tool"]);
    expect(rule("alpha.one").match.tools).toEqual(["get_*"]);
  });

  it("sorts and de-duplicates `in` operands by canonical JSON, without sorting inside them", () => {
    const z = rule("alpha.one").match.args.find((a) => a.path === "z");
    expect(z?.conditions).toEqual([{ op: "in", value: ["a", "b", 1, 3, [2, 1], { k: 1 }] }]);
  });

  it("keeps ordered operands as written and orders operators canonically", () => {
    const a = rule("alpha.one").match.args.find((x) => x.path === "a");
    expect(a?.conditions).toEqual([
      { op: "exists", value: true },
      { op: "eq", value: [2, 1] },
      { op: "gt", value: 1 },
      { op: "matches", value: "^x" },
    ]);
    expect(rule("alpha.one").match.args.map((x) => x.path)).toEqual(["a", "z"]);
  });

  it("sorts and de-duplicates provenance args", () => {
    expect(rule("alpha.one").match.provenance).toEqual({ args: ["cc", "to"], from: "untrusted" });
  });

  it("stores CEL in canonical form", () => {
    expect(rule("alpha.one").match.condition).toBe('args.a > 1 && tool == "get_x"');
  });

  it("indexes rules by exact tool name, and rules with globs or no tools as patterns", () => {
    expect(ir.tool_index).toEqual({
      exact: { a_tool: ["beta-9", "zeta"], b_tool: ["zeta"] },
      patterns: ["1-2", "9.lives", "alpha.one"],
    });
  });

  it("puts a rule that mixes exact names and globs under patterns only", () => {
    const mixed = compilePolicy(
      yaml(
        "schema: proof.policy/v1",
        "policy_id: p",
        "rules:",
        "  - { id: m, match: { tool: [exact, 'glob_?'] }, effect: warn }",
      ),
      "p.yaml",
    );
    expect(mixed.tool_index).toEqual({ exact: {}, patterns: ["m"] });
  });

  it("indexes tools whose names are also Object.prototype members", () => {
    const odd = compilePolicy(
      yaml(
        "schema: proof.policy/v1",
        "policy_id: p",
        "rules:",
        "  - { id: a, match: { tool: [__proto__, constructor, toString] }, effect: block }",
      ),
      "p.yaml",
    );
    const exact = JSON.parse(JSON.stringify(odd.tool_index.exact)) as Record<string, string[]>;
    expect(Object.keys(exact).sort()).toEqual(["__proto__", "constructor", "toString"]);
    for (const key of Object.keys(exact)) expect(exact[key]).toEqual(["a"]);
    expect(loadIR(JSON.stringify(odd), "ir.json").policy_digest).toBe(odd.policy_digest);
  });

  it("builds the same index from the rules alone", () => {
    expect(buildToolIndex(ir.rules)).toEqual(ir.tool_index);
  });

  it("sorts and de-duplicates sources and the lists inside them", () => {
    const withSources = compilePolicy(
      yaml(
        "schema: proof.policy/v1",
        "policy_id: p",
        "sources:",
        "  - { tool: [b, a, b], integrity: trusted }",
        "  - { role: [user, system, user], integrity: trusted }",
        "  - { tool: [a, b], integrity: trusted }",
        "  - { tool: c, role: user, integrity: unknown }",
        "rules: []",
      ),
      "p.yaml",
    );
    expect(withSources.sources).toEqual([
      { tools: [], roles: ["system", "user"], integrity: "trusted" },
      { tools: ["a", "b"], roles: [], integrity: "trusted" },
      { tools: ["c"], roles: ["user"], integrity: "unknown" },
    ]);
  });

  it("keeps descriptions in the IR, outside the digest", () => {
    const described = compileExample("agentdojo-banking.yaml");
    expect(described.description).toMatch(/^Money and credentials/);
    expect(described.rules.every((r) => typeof r.description === "string")).toBe(true);
    expect(described.compiler).toMatch(/^proof\//);
  });
});
