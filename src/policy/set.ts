/**
 * Policy sets: the policies one run applies together, checked for clashes, compiled, and digested
 * as a bundle. Pure: the files are read by src/io/policy-files.ts.
 */
import { inputError, ProofError } from "../errors.js";
import { CelNotLoadedError } from "../expr/cel.js";
import { digestOf } from "../io/canonical.js";
import { type CompiledPolicy, compileIR } from "../verify/compiled.js";
import { compilePolicy } from "./compile.js";
import type { ProofIR } from "./ir.js";
import { loadIR } from "./load-ir.js";
import { parseYaml } from "./yaml.js";

/** Policies loaded for one run: IRs, their compiled form, and the bundle digest. */
export interface PolicySet {
  irs: ProofIR[];
  compiled: CompiledPolicy[];
  /** SHA-256 over the sorted list of policy digests (docs/policy.md). */
  bundleDigest: string;
}

/** Compiles one policy's text: YAML source, or an IR when `file` ends in `.json`. */
export function policyFromText(text: string, file: string): ProofIR {
  return file.endsWith(".json") ? loadIR(text, file) : compilePolicy(text, file);
}

/**
 * A policy set from IRs already loaded (from files, or from git for `proof diff`), each with the
 * file it came from for messages.
 * @throws ProofError `policy.duplicate_policy` / `policy.duplicate_rule` (exit 6) on a clash,
 *   `ir.invalid` when an IR does not compile.
 * @throws CelNotLoadedError when an IR has CEL and the engine is not loaded (src/expr/cel.ts).
 */
export function policySetOf(loaded: readonly { ir: ProofIR; file: string }[]): PolicySet {
  const irs: ProofIR[] = [];
  const ruleOwner = new Map<string, string>();
  const policyOwner = new Map<string, string>();
  for (const { ir, file } of loaded) {
    const other = policyOwner.get(ir.policy_id);
    if (other)
      throw inputError("policy.duplicate_policy", `policy id '${ir.policy_id}' is in ${other} and ${file}`, {
        file,
      });
    policyOwner.set(ir.policy_id, file);
    for (const rule of ir.rules) {
      const owner = ruleOwner.get(rule.id);
      if (owner)
        throw inputError("policy.duplicate_rule", `rule id '${rule.id}' is in ${owner} and ${file}`, {
          file,
        });
      ruleOwner.set(rule.id, file);
    }
    irs.push(ir);
  }
  const compiled = irs.map((ir) => {
    try {
      return compileIR(ir);
    } catch (err) {
      // Not the IR's fault: the caller loads the CEL engine and tries again (src/expr/cel.ts).
      if (err instanceof CelNotLoadedError) throw err;
      throw new ProofError("ir.invalid", `policy ${ir.policy_id}: ${(err as Error).message}`, { cause: err });
    }
  });
  return { irs, compiled, bundleDigest: digestOf(irs.map((ir) => ir.policy_digest).sort()) };
}

/**
 * Parses a context (JSON or YAML text) that must hold an object.
 * @throws ProofError `context.invalid` (exit 6), or the YAML parser's located errors.
 */
export function parseContext(text: string, file: string): Record<string, unknown> {
  const value = parseYaml(text, file).value;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw inputError("context.invalid", "a context must be an object (a map of keys to values)", {
      file,
      line: 1,
      column: 1,
    });
  }
  return value as Record<string, unknown>;
}
