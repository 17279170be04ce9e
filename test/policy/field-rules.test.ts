/**
 * Field rules of provenance sources and `from: injected`: the path syntax, how policies compile
 * them (located errors, canonical IR, digest), and how an IR carrying them is checked on load.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ProofError } from "../../src/errors.js";
import { compilePolicy, policyDigest } from "../../src/policy/compile.js";
import {
  FieldPathError,
  formatFieldPattern,
  formatPath,
  matchesFieldPattern,
  parseFieldPattern,
} from "../../src/policy/field-path.js";
import { INJECTION_DETECTOR } from "../../src/policy/injection-version.js";
import type { ProofIR } from "../../src/policy/ir.js";
import { loadIR } from "../../src/policy/load-ir.js";

const ROOT = join(import.meta.dirname, "../..");

function matches(pattern: string, steps: (string | number)[]): boolean {
  return matchesFieldPattern(parseFieldPattern(pattern), steps);
}

describe("field paths", () => {
  it("match list items with [*], an index with [n], keys by name and any key with *", () => {
    expect(matches("[*].recipient", [4, "recipient"])).toBe(true);
    expect(matches("[*].recipient", [4, "subject"])).toBe(false);
    expect(matches("[*].recipient", ["4", "recipient"])).toBe(false);
    expect(matches("[2].recipient", [2, "recipient"])).toBe(true);
    expect(matches("[2].recipient", [3, "recipient"])).toBe(false);
    expect(matches("*.recipient", ["x", "recipient"])).toBe(true);
    expect(matches("*.recipient", [0, "recipient"])).toBe(false);
  });

  it("match nested lists and any depth with **", () => {
    expect(matches("emails[*].to[*]", ["emails", 1, "to", 0])).toBe(true);
    expect(matches("emails[*].to[*]", ["emails", 1, "to"])).toBe(false);
    expect(matches("**.subject", ["subject"])).toBe(true);
    expect(matches("**.subject", ["a", 3, "b", "subject"])).toBe(true);
    expect(matches("**.subject", ["a", "subject", "x"])).toBe(false);
    expect(matches("a.**", ["a"])).toBe(true);
    expect(matches("a.**.c[*]", ["a", "b", 0, "c", 9])).toBe(true);
  });

  it("quote keys with dots, spaces or brackets, and read JSON escapes in them", () => {
    expect(matches('meta["content.type"]', ["meta", "content.type"])).toBe(true);
    expect(matches('meta["content.type"]', ["meta", "content", "type"])).toBe(false);
    expect(matches('["a b"]["x\\"y"]', ["a b", 'x"y'])).toBe(true);
    expect(matches('["*"]', ["*"])).toBe(true);
    expect(matches('["*"]', ["other"])).toBe(false);
    expect(formatPath([2, "recipient"])).toBe("[2].recipient");
    expect(formatPath(["meta", "content.type", 0])).toBe('meta["content.type"][0]');
    expect(formatPath([])).toBe("");
  });

  it("have one canonical text: quotes only where needed", () => {
    expect(formatFieldPattern(parseFieldPattern('["recipient"]'))).toBe("recipient");
    expect(formatFieldPattern(parseFieldPattern('[*]["recipient"]'))).toBe("[*].recipient");
    expect(formatFieldPattern(parseFieldPattern('a["b.c"].**.*[0]'))).toBe('a["b.c"].**.*[0]');
  });

  it.each([
    ["", 0],
    ["a.", 2],
    ["a..b", 2],
    ["[*", 2],
    ["[x]", 1],
    ["[01]", 1],
    ['["open', 6],
    ["a b", 1],
    ["a]", 1],
  ])("refuses %j with the offset of the problem", (source, offset) => {
    let err: unknown;
    try {
      parseFieldPattern(source);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FieldPathError);
    expect((err as FieldPathError).offset).toBe(offset);
  });
});

const HEAD = "schema: proof.policy/v1\npolicy_id: t.v1\n";
const RULE = `rules:
  - id: r
    match:
      tool: pay
      provenance: { args: [to], from: untrusted }
    effect: block
`;

function compileError(yaml: string): ProofError {
  try {
    compilePolicy(yaml, "p.yaml");
  } catch (err) {
    if (err instanceof ProofError) return err;
    throw err;
  }
  throw new Error("compiled");
}

describe("field rules in policies", () => {
  it("compile to canonical, sorted paths; two spellings of one path are one rule", () => {
    const ir = compilePolicy(
      `${HEAD}sources:
  - tool: history
    integrity: untrusted
    fields:
      "[*].subject": untrusted
      '[*]["recipient"]': trusted
      "[*].recipient": trusted
${RULE}`,
      "p.yaml",
    );
    expect(ir.sources).toEqual([
      {
        tools: ["history"],
        roles: [],
        integrity: "untrusted",
        fields: [
          { path: "[*].recipient", integrity: "trusted" },
          { path: "[*].subject", integrity: "untrusted" },
        ],
      },
    ]);
  });

  it("refuse a bad path at its key's line and column, exit 6", () => {
    const err = compileError(`${HEAD}sources:
  - tool: history
    integrity: untrusted
    fields:
      "[*].recipient": trusted
      "[*]..subject": untrusted
${RULE}`);
    expect(err.code).toBe("policy.invalid_field_path");
    expect(err.exitCode).toBe(6);
    expect(err.location).toEqual({ file: "p.yaml", line: 8, column: 7 });
    expect(err.message).toContain("offset 4");
  });

  it("refuse two spellings of one path with different integrity", () => {
    const err = compileError(`${HEAD}sources:
  - tool: history
    integrity: untrusted
    fields:
      recipient: trusted
      '["recipient"]': unknown
${RULE}`);
    expect(err.code).toBe("policy.duplicate_field");
    expect(err.location?.line).toBe(8);
  });

  it("refuse fields without a tool, and an integrity that is not a level", () => {
    const noTool = compileError(`${HEAD}sources:
  - role: user
    integrity: unknown
    fields: { a: trusted }
${RULE}`);
    expect(noTool.exitCode).toBe(6);
    expect(noTool.message).toContain("tool");
    const level = compileError(`${HEAD}sources:
  - tool: t
    integrity: unknown
    fields: { a: injected }
${RULE}`);
    expect(level.exitCode).toBe(6);
    expect(level.location?.line).toBe(6);
  });

  it("leave the IR and digest of a policy without fields or injected exactly as they were", () => {
    const yaml = `${HEAD}sources:\n  - tool: t\n    integrity: trusted\n${RULE}`;
    const ir = compilePolicy(yaml, "p.yaml");
    expect(ir.sources[0]).not.toHaveProperty("fields");
    expect(ir).not.toHaveProperty("injection_detector");
    // The digest recipe of docs/policy.md over exactly the keys a policy had before.
    expect(Object.keys(ir).sort()).toEqual(
      [
        "compiler",
        "defaults",
        "policy_digest",
        "policy_id",
        "rules",
        "schema",
        "sources",
        "tool_index",
      ].sort(),
    );
  });

  it("name the detector version in the IR, and so in the digest, only when a rule asks for injected", () => {
    const untrusted = compilePolicy(`${HEAD}${RULE}`, "p.yaml");
    const injected = compilePolicy(`${HEAD}${RULE.replace("from: untrusted", "from: injected")}`, "p.yaml");
    expect(untrusted).not.toHaveProperty("injection_detector");
    expect(injected.injection_detector).toBe(INJECTION_DETECTOR);
    const other = { ...injected, injection_detector: "injection/0" };
    expect(policyDigest(other)).not.toBe(injected.policy_digest);
  });

  it("keep the example banking policy's field rule in its IR", () => {
    const ir = compilePolicy(
      readFileSync(join(ROOT, "examples/policies/agentdojo-banking.yaml"), "utf8"),
      "agentdojo-banking.yaml",
    );
    const history = ir.sources.find((s) => s.tools.includes("get_most_recent_transactions"));
    expect(history?.fields).toEqual([{ path: "[*].recipient", integrity: "trusted" }]);
  });
});

describe("loading an IR with field rules or injected", () => {
  const base = compilePolicy(
    `${HEAD}sources:
  - tool: history
    integrity: untrusted
    fields: { "[*].recipient": trusted }
${RULE.replace("from: untrusted", "from: injected")}`,
    "p.yaml",
  );
  const redigest = (change: (ir: ProofIR) => void): string => {
    const copy = structuredClone(base);
    change(copy);
    copy.policy_digest = policyDigest(copy);
    return JSON.stringify(copy);
  };
  const failure = (text: string): ProofError => {
    try {
      loadIR(text, "ir.json");
    } catch (err) {
      if (err instanceof ProofError) return err;
      throw err;
    }
    throw new Error("loaded");
  };

  it("accepts what compile wrote", () => {
    expect(loadIR(JSON.stringify(base), "ir.json")).toEqual(base);
  });

  it("refuses a detector version this proof does not have, even with the digest recomputed", () => {
    const err = failure(
      redigest((ir) => {
        ir.injection_detector = "injection/0";
      }),
    );
    expect(err.code).toBe("ir.invalid");
    expect(err.message).toContain("compile the policy again");
  });

  it("refuses injected without a detector version, and a detector version without injected", () => {
    expect(failure(redigest((ir) => delete ir.injection_detector)).code).toBe("ir.invalid");
    const noInjected = redigest((ir) => {
      const prov = ir.rules[0]?.match.provenance;
      if (prov) prov.from = "untrusted";
    });
    expect(failure(noInjected).message).toContain("no rule asks");
  });

  it("refuses a field path that is not canonical", () => {
    const err = failure(
      redigest((ir) => {
        const f = ir.sources[0]?.fields?.[0];
        if (f) f.path = '[*]["recipient"]';
      }),
    );
    expect(err.code).toBe("ir.invalid");
    expect(err.message).toContain("canonical");
  });
});
