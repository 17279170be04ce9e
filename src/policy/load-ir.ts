import { inputError } from "../errors.js";
import { validateIR } from "../generated/validators.js";
import { parseJson } from "../trace/json.js";
import { policyDigest } from "./compile.js";
import type { ProofIR } from "./ir.js";

/**
 * Reads a compiled IR (`proof.ir/v1`, schemas/ir.schema.json) and checks that its
 * `policy_digest` matches its content, so an edited IR is never trusted under an old digest.
 * @throws ProofError `ir.invalid` or `ir.digest_mismatch` (exit 6).
 */
export function loadIR(text: string, file: string): ProofIR {
  const value = parseJson(text, file);
  if (!validateIR(value)) {
    const e = validateIR.errors?.[0];
    throw inputError(
      "ir.invalid",
      `not a proof.ir/v1 file: ${e?.instancePath || "(document)"} ${e?.message ?? ""}`.trim(),
      {
        file,
      },
    );
  }
  const ir = value as ProofIR;
  // The planner and the engine rely on rules being sorted by id and unique, as compile writes them.
  for (let i = 1; i < ir.rules.length; i++) {
    if (!((ir.rules[i - 1]?.id ?? "") < (ir.rules[i]?.id ?? ""))) {
      throw inputError(
        "ir.invalid",
        `rules must be sorted by id and unique; '${ir.rules[i]?.id}' is out of place`,
        { file },
      );
    }
  }
  const actual = policyDigest(ir);
  if (actual !== ir.policy_digest) {
    throw inputError(
      "ir.digest_mismatch",
      `policy_digest is ${ir.policy_digest} but the content digests to ${actual}`,
      {
        file,
      },
    );
  }
  return ir;
}
