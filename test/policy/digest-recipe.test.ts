/**
 * The digest recipe of docs/policy.md reproduces the compiler's digest: the keys the document
 * says to remove are read from the document itself, applied with an independent RFC 8785
 * implementation (canonicalize) and node:crypto, and compared, on a policy with CEL.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import canonicalize from "canonicalize";
import { afterAll, describe, expect, it } from "vitest";
import { loadPolicySet } from "../../src/io/policy-files.js";
import { compilePolicy } from "../../src/policy/compile.js";
import { ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";

afterAll(removeTempDirs);

/** A policy with `when`, a CEL condition, descriptions at both levels and two rules. */
const POLICY = `schema: proof.policy/v1
policy_id: recipe.v1
description: payments in production
rules:
  - id: large_payment
    description: big transfers need a person
    when: context.environment == "prod"
    match:
      tool: send_money
      condition: args.amount > 1000 && args.currency == "EUR"
    effect: require_approval
  - id: no_delete
    match: { tool: [delete_repo] }
    effect: block
`;

/** The backticked names of the first match of `pattern` in `text` (its first group). */
function names(text: string, pattern: RegExp): string[] {
  const found = pattern.exec(text)?.[1];
  if (found === undefined) throw new Error(`docs/policy.md no longer says ${pattern}`);
  return [...found.matchAll(/`([a-z_]+)`/g)].map((m) => m[1] as string);
}

/** Returns `value` without `keys`. */
function without(value: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([k]) => !keys.includes(k)));
}

describe("docs/policy.md's digest recipe", () => {
  it("reproduces policy_digest and the bundle digest for a policy with CEL", async () => {
    const doc = (await readFile(join(ROOT, "docs", "policy.md"), "utf8")).replace(/\s+/g, " ");
    const top = names(doc, /1\. Remove the top-level keys (.*?)\. 2\./);
    const ruleKeys = names(doc, /In every rule of `rules`, remove the keys (.*?);/);
    const matchKeys = names(doc, /in the rule's `match`, remove the key (.*?)\. 3\./);
    expect(top).toEqual(["policy_digest", "compiler", "description"]);

    const ir = compilePolicy(POLICY, "recipe.yaml");
    // The parsed forms exist: the recipe must drop them to reproduce the digest.
    expect(ir.rules.some((r) => r.when_parsed !== undefined)).toBe(true);
    expect(ir.rules.some((r) => r.match.condition_parsed !== undefined)).toBe(true);

    const semantic = {
      ...without(ir as unknown as Record<string, unknown>, top),
      rules: ir.rules.map((rule) => {
        const r = without(rule as unknown as Record<string, unknown>, ruleKeys);
        return { ...r, match: without(r.match as Record<string, unknown>, matchKeys) };
      }),
    };
    const sha256 = (text: string) => createHash("sha256").update(Buffer.from(text, "utf8")).digest("hex");
    expect(`sha256:${sha256(canonicalize(semantic) as string)}`).toBe(ir.policy_digest);

    // The bundle digest: the canonical JSON of the sorted list of the policy digests.
    const dir = await tempDir();
    await mkdir(join(dir, "policies"));
    await writeFile(join(dir, "policies", "a.yaml"), POLICY);
    await writeFile(
      join(dir, "policies", "b.yaml"),
      POLICY.replace("recipe.v1", "recipe.v2").replace(/id: (\w+)/g, "id: $1_2"),
    );
    const set = await loadPolicySet(join(dir, "policies"));
    const list = set.irs.map((p) => p.policy_digest).sort();
    expect(list).toHaveLength(2);
    expect(set.bundleDigest).toBe(`sha256:${sha256(canonicalize(list) as string)}`);
  });
});
