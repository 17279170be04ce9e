import { inputError } from "../errors.js";
import { operandProblem } from "../expr/matchers.js";
import { validateIR } from "../generated/validate-ir.js";
import { canonicalJson } from "../io/canonical.js";
import { parseJson } from "../trace/json.js";
import { buildToolIndex, MAX_RULE_COST, policyDigest } from "./compile.js";
import { FieldPathError, formatFieldPattern, parseFieldPattern } from "./field-path.js";
import { INJECTION_DETECTOR } from "./injection-version.js";
import type { ArgCondition, Condition, EventPattern, IRRule, ProofIR } from "./ir.js";

/** Every condition of a rule with a label of where it is, for messages. */
function conditionsOf(rule: IRRule): { at: string; cond: Condition }[] {
  const out: { at: string; cond: Condition }[] = [];
  const args = (list: readonly ArgCondition[] | undefined, at: string) => {
    for (const a of list ?? []) for (const cond of a.conditions) out.push({ at: `${at}.${a.path}`, cond });
  };
  const pattern = (p: EventPattern | undefined, at: string) => {
    for (const cond of p?.content ?? []) out.push({ at: `${at}.content`, cond });
    args(p?.args, `${at}.args`);
  };
  args(rule.match.args, "match.args");
  const seq = rule.match.sequence;
  pattern(seq?.require_before, "match.sequence.require_before");
  pattern(seq?.forbid_before, "match.sequence.forbid_before");
  pattern(seq?.since, "match.sequence.since");
  return out;
}

/**
 * Checks what the IR schema cannot: costs within {@link MAX_RULE_COST}, comparison operands that
 * are numbers, and a tool index that is exactly the one the rules give. The engine looks rules
 * up through the index, so an index that disagrees with the rules (hand-edited, with the digest
 * recomputed) would silently turn a rule off.
 * @throws ProofError `ir.invalid` naming the rule or the index.
 */
function checkSemantics(ir: ProofIR, file: string): void {
  for (const rule of ir.rules) {
    if (!Number.isInteger(rule.cost) || rule.cost < 0 || rule.cost > MAX_RULE_COST) {
      throw inputError(
        "ir.invalid",
        `rule '${rule.id}': cost must be an integer from 0 to ${MAX_RULE_COST}, not ${rule.cost}`,
        { file },
      );
    }
    for (const { at, cond } of conditionsOf(rule)) {
      const problem = operandProblem(cond);
      if (problem) throw inputError("ir.invalid", `rule '${rule.id}' ${at}: ${problem}`, { file });
    }
  }
  const injected = ir.rules.some((r) => r.match.provenance?.from === "injected");
  if (injected && ir.injection_detector !== INJECTION_DETECTOR) {
    throw inputError(
      "ir.invalid",
      ir.injection_detector === undefined
        ? "a rule asks for 'from: injected' but the IR names no injection_detector"
        : `the IR was compiled for injection detector ${ir.injection_detector}; this proof has ${INJECTION_DETECTOR}: compile the policy again`,
      { file },
    );
  }
  if (!injected && ir.injection_detector !== undefined) {
    throw inputError("ir.invalid", "injection_detector is set but no rule asks for 'from: injected'", {
      file,
    });
  }
  for (const [i, source] of ir.sources.entries()) {
    let previous = "";
    for (const field of source.fields ?? []) {
      let canonical: string | undefined;
      try {
        canonical = formatFieldPattern(parseFieldPattern(field.path));
      } catch (err) {
        if (!(err instanceof FieldPathError)) throw err;
      }
      if (canonical !== field.path || field.path <= previous) {
        throw inputError(
          "ir.invalid",
          `sources[${i}].fields: '${field.path}' is not a canonical field path in sorted order`,
          { file },
        );
      }
      previous = field.path;
    }
  }
  const expected = buildToolIndex(ir.rules);
  if (canonicalJson(expected) !== canonicalJson(ir.tool_index)) {
    const entry = (exact: Record<string, string[]>, tool: string) =>
      canonicalJson(Object.hasOwn(exact, tool) ? exact[tool] : null);
    const wrong =
      Object.keys({ ...expected.exact, ...ir.tool_index.exact })
        .sort()
        .find((tool) => entry(expected.exact, tool) !== entry(ir.tool_index.exact, tool)) ?? "patterns";
    throw inputError(
      "ir.invalid",
      `tool_index does not match the rules (first difference: ${wrong === "patterns" ? "patterns" : `exact[${JSON.stringify(wrong)}]`})`,
      { file },
    );
  }
}

/**
 * Reads a compiled IR (`proof.ir/v1`, schemas/ir.schema.json) and checks that its
 * `policy_digest` matches its content, so an edited IR is never trusted under an old digest. What
 * the schema cannot say is checked too (see checkSemantics): costs, comparison operands and the
 * tool index, which must be exactly the one the rules give.
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
  checkSemantics(ir, file);
  return ir;
}
