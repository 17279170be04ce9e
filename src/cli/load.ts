import { inputError, ProofError } from "../errors.js";
import { digestOf } from "../io/canonical.js";
import { fileLimit, listPolicyFiles, readTextFile } from "../io/files.js";
import { compilePolicy } from "../policy/compile.js";
import type { ProofIR } from "../policy/ir.js";
import { loadIR } from "../policy/load-ir.js";
import { parseYaml } from "../policy/yaml.js";
import { type CompiledPolicy, compileIR } from "../verify/compiled.js";

/** Policies loaded for one run: IRs, their compiled form, and the bundle digest. */
export interface PolicySet {
  irs: ProofIR[];
  compiled: CompiledPolicy[];
  /** SHA-256 over the sorted list of policy digests (docs/policy.md). */
  bundleDigest: string;
}

/** Compiles one policy file: YAML source, or an IR (`.json` holding `proof.ir/v1`). */
export async function loadPolicyFile(file: string): Promise<ProofIR> {
  return policyFromText(await readTextFile(file, fileLimit()), file);
}

/** Compiles one policy's text: YAML source, or an IR when `file` ends in `.json`. */
export function policyFromText(text: string, file: string): ProofIR {
  return file.endsWith(".json") ? loadIR(text, file) : compilePolicy(text, file);
}

/**
 * Loads `--policy P`: a YAML policy, an IR file, or a directory of policies (each applies).
 * Rule ids must be unique across the set, and so must policy ids.
 * @throws ProofError (exit 6) on any invalid policy or a clash.
 */
export async function loadPolicySet(path: string): Promise<PolicySet> {
  const loaded: { ir: ProofIR; file: string }[] = [];
  for (const file of await listPolicyFiles(path)) loaded.push({ ir: await loadPolicyFile(file), file });
  return policySetOf(loaded);
}

/**
 * A policy set from IRs already loaded (from files, or from git for `proof diff`), each with the
 * file it came from for messages.
 * @throws ProofError `policy.duplicate_policy` / `policy.duplicate_rule` (exit 6) on a clash,
 *   `ir.invalid` when an IR does not compile.
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
      throw new ProofError("ir.invalid", `policy ${ir.policy_id}: ${(err as Error).message}`, { cause: err });
    }
  });
  return { irs, compiled, bundleDigest: digestOf(irs.map((ir) => ir.policy_digest).sort()) };
}

/**
 * Reads a context file (JSON or YAML) that must hold an object.
 * @throws ProofError `context.invalid` (exit 6).
 */
export async function loadContext(file: string): Promise<Record<string, unknown>> {
  const parsed = parseYaml(await readTextFile(file, fileLimit()), file);
  const value = parsed.value;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw inputError("context.invalid", "a context must be an object (a map of keys to values)", {
      file,
      line: 1,
      column: 1,
    });
  }
  return value as Record<string, unknown>;
}
