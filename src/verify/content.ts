import { load } from "js-yaml";
import type { PathStep } from "../policy/field-path.js";
import { CORE, YAML_LIBRARY_ONLY } from "../policy/js-yaml-core.js";
import { yamlLibrary } from "../policy/yaml-library.js";

/**
 * Deepest nesting of structured content that is split into leaves. Deeper content is left as one
 * string: nothing is lost (its text is still scanned), and the walk stays bounded.
 */
export const MAX_CONTENT_DEPTH = 64;

/** Most aliases the YAML of a tool result may expand: a tool result is untrusted input. */
const MAX_ALIAS_COUNT = 100;

/** One leaf of structured content: where it is and its text. */
export interface ContentLeaf {
  /** Keys and list indices from the top of the content. */
  path: PathStep[];
  /** A string as it is; a finite number in canonical JSON form; a mapping key as it is. */
  text: string;
  /** Set for a mapping key (its path is the entry's). */
  key?: true;
}

/** Whether the trimmed text can start a JSON document that is an object or an array. */
function jsonLike(t: string): boolean {
  const c = t.charCodeAt(0);
  return c === 0x7b /* { */ || c === 0x5b; /* [ */
}

/**
 * Parses a tool result that is a JSON or YAML mapping or sequence (AgentDojo's tools return
 * YAML, most others JSON). JSON is tried first (it is also YAML, but JSON.parse is far cheaper).
 * YAML is read with the YAML 1.2 core schema and no duplicate-key check (the last value of a key
 * wins: a tool's output is taken as the model saw it): by js-yaml, about five times faster than
 * the `yaml` library, unless the text could hold an anchor or another construct the two read
 * differently ({@link YAML_LIBRARY_ONLY}) or js-yaml rejects it; then by the `yaml` library, with
 * at most {@link MAX_ALIAS_COUNT} alias expansions. Both give the same value wherever js-yaml is
 * used (test/verify/content-yaml.test.ts checks it on the corpus and on generated documents).
 * @returns the parsed value, or undefined when the text is not a mapping or sequence, does not
 *   parse, or nests deeper than {@link MAX_CONTENT_DEPTH}: such content stays one string.
 */
export function parseStructured(text: string): unknown {
  const t = text.trim();
  if (t === "") return undefined;
  let value: unknown;
  if (jsonLike(t)) {
    try {
      value = JSON.parse(t);
    } catch {
      value = undefined;
    }
  }
  if (value === undefined) {
    // Plain text has no `:` or `- ` and cannot be a YAML mapping or sequence: skip the parser.
    if (!t.includes(":") && !t.startsWith("-") && !jsonLike(t)) return undefined;
    value = YAML_LIBRARY_ONLY.test(t) ? undefined : readFast(t);
    // A scalar from js-yaml is final: the differential test found no text, outside the patterns,
    // that js-yaml reads as a scalar and the `yaml` library as a mapping or sequence.
    if (value === undefined) value = readYamlLibrary(t);
  }
  if (value === null || typeof value !== "object") return undefined;
  if (depthOver(value, MAX_CONTENT_DEPTH)) return undefined;
  return value;
}

/** js-yaml's reading of text {@link YAML_LIBRARY_ONLY} lets through, or undefined when it rejects it. */
function readFast(t: string): unknown {
  try {
    return load(t, { schema: CORE, json: true });
  } catch {
    // A syntax js-yaml rejects (several documents, an unknown tag, nesting beyond its stack)
    // goes to the `yaml` library, which decides as it did alone.
    return undefined;
  }
}

/**
 * The `yaml` library's reading (core schema, last duplicate key wins, bounded aliases), or
 * undefined on an error. Exported for the differential test of the two parsers.
 */
export function readYamlLibrary(t: string): unknown {
  // Loaded outside the try: a library that cannot be loaded is an error, not unstructured text.
  const yaml = yamlLibrary();
  try {
    const doc = yaml.parseDocument(t, { uniqueKeys: false, prettyErrors: false, strict: false });
    if (doc.errors.length > 0) return undefined;
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch {
    // Too many aliases, or nesting beyond the parser's stack: not structured for provenance.
    return undefined;
  }
}

function depthOver(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== "object") return false;
  if (limit === 0) return true;
  const children = value instanceof Map ? [...value.values()] : Object.values(value as object);
  return children.some((v) => depthOver(v, limit - 1));
}

/**
 * The leaves of parsed content, depth first in document order: strings, finite numbers (canonical
 * JSON form) and mapping keys (at the path of their entry: a key can carry a value too, such as
 * an address a mapping is keyed by). Booleans and null carry no provenance.
 */
export function contentLeaves(value: unknown, path: PathStep[] = [], out: ContentLeaf[] = []): ContentLeaf[] {
  if (typeof value === "string") out.push({ path, text: value });
  else if (typeof value === "number") {
    if (Number.isFinite(value)) out.push({ path, text: JSON.stringify(value) });
  } else if (typeof value === "bigint") out.push({ path, text: value.toString() });
  else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) contentLeaves(v, [...path, i], out);
  } else if (value instanceof Map) {
    for (const [k, v] of value) {
      const key = String(k);
      // The key and its value share one path array (no leaf's path is changed after the walk).
      const at = [...path, key];
      out.push({ path: at, text: key, key: true });
      contentLeaves(v, at, out);
    }
  } else if (value !== null && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      const at = [...path, key];
      out.push({ path: at, text: key, key: true });
      contentLeaves(v, at, out);
    }
  }
  return out;
}
