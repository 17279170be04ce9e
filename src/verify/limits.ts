/**
 * Resource limits of the engine (docs/policy.md, "Limits"): what one tool call may cost before it
 * is refused without being judged.
 */
import type { ProofIR } from "../policy/ir.js";

/** Default of `limits.max_argument_bytes`: 1 MiB of arguments per call. */
export const DEFAULT_MAX_ARGUMENT_BYTES = 1_048_576;

/**
 * The name under which an over-limit call is reported: in `rules` and `decision.errors[].rule`.
 * It holds a `:`, which no rule id may, so it never collides with a rule.
 */
export const ARGUMENT_LIMIT_RULE = "limits:max_argument_bytes";

/** The argument limit of a policy in bytes: its own `limits.max_argument_bytes` or the default. */
export function maxArgumentBytes(ir: ProofIR): number {
  return ir.limits?.max_argument_bytes ?? DEFAULT_MAX_ARGUMENT_BYTES;
}

/** UTF-8 bytes of one string as `JSON.stringify` writes it, quotes included; stops counting above `cap`. */
function stringBytes(s: string, cap: number): number {
  let n = 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      // `"` and `\` are escaped with a backslash; control characters as \n or \u00XX.
      if (c === 0x22 || c === 0x5c) n += 2;
      else if (c >= 0x20) n += 1;
      else n += c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
    } else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 6; // a lone surrogate is written as \uXXXX
    } else if (c >= 0xdc00 && c <= 0xdfff) n += 6;
    else n += 3;
    if (n > cap) return n;
  }
  return n;
}

/**
 * The size of a JSON value in UTF-8 bytes of its compact JSON text (`JSON.stringify`, no
 * whitespace), computed without writing the text. Counting stops as soon as the size exceeds
 * `cap`: the result is then some number above `cap`, so the cost of measuring a hostile argument
 * is bounded by the limit, not by the argument. Iterative: nesting depth costs no stack.
 */
export function jsonBytes(value: unknown, cap = Number.POSITIVE_INFINITY): number {
  let n = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "string") n += stringBytes(v, cap - n);
    else if (typeof v === "number") n += Number.isFinite(v) ? JSON.stringify(v).length : 4;
    else if (typeof v === "boolean") n += v ? 4 : 5;
    else if (Array.isArray(v)) {
      // Brackets and commas; an element JSON cannot hold is written as null.
      n += 2 + Math.max(0, v.length - 1);
      for (const e of v) stack.push(e === undefined || typeof e === "function" ? null : e);
    } else if (v !== null && typeof v === "object") {
      let entries = 0;
      for (const [k, e] of Object.entries(v)) {
        if (e === undefined || typeof e === "function") continue;
        entries++;
        n += stringBytes(k, cap - n) + 1;
        stack.push(e);
      }
      n += 2 + Math.max(0, entries - 1);
    } else n += 4; // null
    if (n > cap) return n;
  }
  return n;
}
