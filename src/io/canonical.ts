import { createHash } from "node:crypto";
import canonicalize from "canonicalize";

/**
 * Canonical JSON as RFC 8785 (JSON Canonicalization Scheme) defines it: keys sorted by UTF-16
 * code units, ECMAScript number serialisation, no insignificant whitespace. Used for digests.
 * @throws TypeError when the value holds something JSON cannot represent (a BigInt, a cycle).
 */
export function canonicalJson(value: unknown): string {
  const out = canonicalize(value);
  if (out === undefined) throw new TypeError("value has no JSON representation");
  return out;
}

/**
 * The on-disk form of every artifact (DESIGN.md §1): RFC 8785 key order, pretty-printed with two
 * spaces and a final newline, so that files are readable and byte-identical across runs.
 */
export function prettyJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

/** One line of a JSON Lines artifact: canonical key order, no whitespace, final newline. */
export function jsonLine(value: unknown): string {
  return `${canonicalJson(value)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    // Code-unit order is what RFC 8785 §3.2.3 prescribes and what Array#sort does by default.
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** Lowercase hex SHA-256 of a UTF-8 string or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** `sha256:` + hex SHA-256 of the value's canonical JSON: the digest form of DESIGN.md §3. */
export function digestOf(value: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(value))}`;
}
