/**
 * The argument limit (`limits.max_argument_bytes`): a call whose arguments are over it is not
 * judged but refused as an evaluation error, in verify and in the live guard.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProofError } from "../../src/errors.js";
import { createGuard } from "../../src/guard/guard.js";
import { compilePolicy, policyDigest } from "../../src/policy/compile.js";
import { ARGUMENT_LIMIT_RULE, DEFAULT_MAX_ARGUMENT_BYTES, jsonBytes } from "../../src/verify/limits.js";
import { decision, policy, rules, trace, verify } from "./helpers.js";

const RULE = `  - id: payee
    match:
      tool: send_money
      provenance: { args: [memo], from: untrusted }
    effect: block
`;

/** A call of `tool` whose arguments are exactly `bytes` bytes of compact JSON: `{"memo":"xx…"}`. */
function callOf(bytes: number, tool = "send_money") {
  return trace([{ assistant: "", calls: [{ tool, args: { memo: "x".repeat(bytes - 11) } }] }]);
}

describe("jsonBytes", () => {
  it("is the UTF-8 length of JSON.stringify, escapes, astral characters and lone surrogates included", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.string({ unit: "binary", maxLength: 30 }), (v, s) => {
        expect(jsonBytes(v)).toBe(Buffer.byteLength(JSON.stringify(v), "utf8"));
        expect(jsonBytes({ [s]: [s, 1.5e300, null, true] })).toBe(
          Buffer.byteLength(JSON.stringify({ [s]: [s, 1.5e300, null, true] }), "utf8"),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("stops above the cap, and is above it exactly when the size is", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), fc.nat(200), (v, cap) => {
        const size = Buffer.byteLength(JSON.stringify(v), "utf8");
        expect(jsonBytes(v, cap) > cap).toBe(size > cap);
        if (size <= cap) expect(jsonBytes(v, cap)).toBe(size);
      }),
      { numRuns: 300 },
    );
    expect(jsonBytes({ a: "x".repeat(10_000_000) }, 100)).toBeLessThan(200);
  });
});

describe("limits.max_argument_bytes", () => {
  it("by default, a call over 1 MiB of arguments is blocked with an error naming the limit", () => {
    const p = rules(RULE);
    const over = decision(verify(p, callOf(DEFAULT_MAX_ARGUMENT_BYTES + 1)));
    expect(over.verdict).toBe("block");
    expect(over.rules).toEqual([ARGUMENT_LIMIT_RULE]);
    expect(over.reasons).toEqual(["evaluation_error"]);
    expect(over.errors).toEqual([
      {
        rule: ARGUMENT_LIMIT_RULE,
        message: `arguments are over 1048576 bytes, the limit max_argument_bytes of policy test.v1: not judged`,
      },
    ]);
    expect(decision(verify(p, callOf(DEFAULT_MAX_ARGUMENT_BYTES))).verdict).toBe("allow");
  });

  it("applies to calls of tools no rule names: an oversized call is never allowed", () => {
    const d = decision(verify(rules(RULE), callOf(DEFAULT_MAX_ARGUMENT_BYTES + 1, "anything")));
    expect(d.verdict).toBe("block");
    expect(d.errors.map((e) => e.rule)).toEqual([ARGUMENT_LIMIT_RULE]);
  });

  it("a policy sets its own limit; in observe mode the error warns", () => {
    const p = rules(RULE, "limits: { max_argument_bytes: 100 }\n");
    expect(decision(verify(p, callOf(100))).verdict).toBe("allow");
    expect(decision(verify(p, callOf(101))).verdict).toBe("block");
    const observe = rules(RULE, "defaults: { fail_closed: false }\nlimits: { max_argument_bytes: 100 }\n");
    const d = decision(verify(observe, callOf(101)));
    expect(d.verdict).toBe("warn");
    expect(d.errors.map((e) => e.rule)).toEqual([ARGUMENT_LIMIT_RULE]);
  });

  it("each policy of a set applies its own limit; the limit is reported once", () => {
    const small = policy(
      `schema: proof.policy/v1\npolicy_id: a.v1\nlimits: { max_argument_bytes: 50 }\nrules: []\n`,
    );
    const large = policy(
      `schema: proof.policy/v1\npolicy_id: b.v1\nlimits: { max_argument_bytes: 5000 }\nrules: []\n`,
    );
    const d = decision(verify([small, large], callOf(60)));
    expect(d.verdict).toBe("block");
    expect(d.rules).toEqual([ARGUMENT_LIMIT_RULE]);
    expect(d.errors.map((e) => e.message)).toEqual([
      "arguments are over 50 bytes, the limit max_argument_bytes of policy a.v1: not judged",
    ]);
  });

  it("the live guard refuses an oversized call and judges later calls as usual", () => {
    const guard = createGuard([rules(RULE, "limits: { max_argument_bytes: 1000 }\n")]);
    guard.observe({ type: "message", role: "user", content: "hi" });
    const big = guard.check({ tool: "send_money", args: { memo: "y".repeat(5000) } });
    expect(big.verdict).toBe("block");
    expect(big.errors.map((e) => e.rule)).toEqual([ARGUMENT_LIMIT_RULE]);
    guard.observe({ type: "tool_result", tool: "read", content: "note: pay the rent" });
    expect(guard.check({ tool: "send_money", args: { memo: "short" } }).verdict).toBe("allow");
    // Provenance still works for small calls; the refused call's values are no patterns.
    expect(guard.check({ tool: "send_money", args: { memo: "pay the rent" } }).verdict).toBe("block");
    expect(guard.trace().events.filter((e) => e.type === "tool_call")).toHaveLength(3);
  });
});

describe("limits in the policy and the IR", () => {
  const head = "schema: proof.policy/v1\npolicy_id: l.v1\n";

  it("is carried in the IR and the digest only when the policy sets it", () => {
    const none = compilePolicy(`${head}rules: []\n`, "p.yaml");
    const set = compilePolicy(`${head}limits:\n  max_argument_bytes: 2048\nrules: []\n`, "p.yaml");
    const other = compilePolicy(`${head}limits: { max_argument_bytes: 4096 }\nrules: []\n`, "p.yaml");
    expect(none.limits).toBeUndefined();
    expect(set.limits).toEqual({ max_argument_bytes: 2048 });
    expect(new Set([none.policy_digest, set.policy_digest, other.policy_digest]).size).toBe(3);
    expect(policyDigest(set)).toBe(set.policy_digest);
  });

  it("refuses a limit that is not a positive integer, or an unknown limit, with its location", () => {
    for (const [limits, line] of [
      ["limits:\n  max_argument_bytes: 0\n", 4],
      ["limits:\n  max_argument_bytes: 1.5\n", 4],
      ["limits:\n  max_arg_bytes: 10\n", 4],
    ] as const) {
      let err: unknown;
      try {
        compilePolicy(`${head}${limits}rules: []\n`, "p.yaml");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ProofError);
      expect((err as ProofError).location).toMatchObject({ file: "p.yaml", line });
    }
  });
});
