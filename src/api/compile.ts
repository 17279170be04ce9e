/**
 * `proof compile` as a library function: a policy's text (YAML source, or an IR) to its IR,
 * `proof.ir/v1`, whose `policy_digest` identifies it (docs/policy.md).
 */
import { prettyJson } from "../io/canonical.js";
import type { ProofIR } from "../policy/ir.js";
import { policyFromText } from "../policy/set.js";

/** A compiled policy: its IR and the text `proof compile` prints for it. */
export interface CompiledSource {
  ir: ProofIR;
  /** The IR as `proof compile` writes it (pretty JSON, one trailing newline). */
  text: string;
}

/**
 * Compiles a policy's text as `proof compile FILE` does: validated against the policy schema,
 * patterns and conditions checked, the IR digested.
 * @param file the file name the text stands for: a `.json` name reads an IR, any other YAML;
 *   errors are located in it.
 * @throws ProofError (exit 6), every schema error of the policy at once, located by line and column.
 */
export function compileSource(text: string, file: string): CompiledSource {
  const ir = policyFromText(text, file);
  return { ir, text: prettyJson(ir) };
}
