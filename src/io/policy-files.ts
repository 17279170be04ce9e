/** Reading policies and contexts from files for a run (the pure parts are in src/policy/set.ts). */
import type { ProofIR } from "../policy/ir.js";
import { type PolicySet, parseContext, policyFromText, policySetOf } from "../policy/set.js";
import { fileLimit, listPolicyFiles, readTextFile } from "./files.js";

/** Compiles one policy file: YAML source, or an IR (`.json` holding `proof.ir/v1`). */
export async function loadPolicyFile(file: string): Promise<ProofIR> {
  return policyFromText(await readTextFile(file, fileLimit()), file);
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
 * Reads a context file (JSON or YAML) that must hold an object.
 * @throws ProofError `context.invalid` (exit 6), `io.too_large`, or a located YAML error.
 */
export async function loadContext(file: string): Promise<Record<string, unknown>> {
  return parseContext(await readTextFile(file, fileLimit()), file);
}
