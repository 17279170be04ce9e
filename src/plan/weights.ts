import { inputError } from "../errors.js";
import { MAX_RULE_COST } from "../policy/compile.js";
import { locate, parseYaml } from "../policy/yaml.js";

/**
 * Parses a weights file (JSON or YAML): a map `{rule_id: cost}` where each cost is a
 * non-negative integer of at most {@link MAX_RULE_COST} and each rule id exists in the policy.
 * @param ruleIds the policy's rule ids
 * @throws ProofError `weights.invalid` / `weights.unknown_rule` (exit 6) naming file, line, column.
 */
export function parseWeights(
  text: string,
  file: string,
  ruleIds: ReadonlySet<string>,
): Record<string, number> {
  const parsed = parseYaml(text, file);
  const value = parsed.value;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw inputError(
      "weights.invalid",
      "weights must be a map of rule ids to non-negative integers",
      locate(parsed, []),
    );
  }
  const out: Record<string, number> = {};
  for (const [id, cost] of Object.entries(value)) {
    if (!ruleIds.has(id)) {
      throw inputError("weights.unknown_rule", `unknown rule id '${id}' in weights`, locate(parsed, [], id));
    }
    if (typeof cost === "number" && Number.isInteger(cost) && cost > MAX_RULE_COST) {
      throw inputError(
        "weights.invalid",
        `weight of '${id}' is ${cost}, more than the limit of ${MAX_RULE_COST}`,
        locate(parsed, [id]),
      );
    }
    if (typeof cost !== "number" || !Number.isInteger(cost) || cost < 0) {
      throw inputError(
        "weights.invalid",
        `weight of '${id}' must be a non-negative integer, not ${JSON.stringify(cost)}`,
        locate(parsed, [id]),
      );
    }
    out[id] = cost;
  }
  return out;
}
