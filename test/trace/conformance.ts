/**
 * The conformance property of the importers: every string leaf of a source document that holds
 * content (message text, a tool name, an argument, a result) appears in the canonical events, or
 * a warning of the import names its address (or an ancestor's). Structure (ids, types, roles,
 * model names, timestamps, protocol versions) is named per format by a predicate over the leaf's
 * address and key; everything else counts as content.
 *
 * Addresses are those of `at` (test/trace/helpers.ts `resolveAt`): `messages[2].content[0].text`;
 * a `.jsonl` file is `{lines: [...]}`; a string that holds a JSON object or array is stepped into.
 */
import type { Trace } from "../../src/trace/model.js";

/** What is left unaccounted in one source: addresses and the first characters of their text. */
export interface Unaccounted {
  at: string;
  text: string;
}

function push(path: string, key: string | number): string {
  return typeof key === "number" ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`;
}

/** Every string of an event, args' leaves included, for the substring search. */
function eventTexts(traces: readonly Trace[]): string {
  const parts: string[] = [];
  const leaves = (v: unknown): void => {
    if (typeof v === "string") parts.push(v);
    else if (typeof v === "number" || typeof v === "boolean") parts.push(String(v));
    else if (Array.isArray(v)) for (const x of v) leaves(x);
    else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        parts.push(k);
        leaves(x);
      }
    }
  };
  for (const t of traces) {
    for (const e of t.events) {
      if (e.type === "message") parts.push(e.content);
      else if (e.type === "tool_call") {
        parts.push(e.tool);
        leaves(e.args);
      } else {
        parts.push(e.content);
        if (e.error !== null) parts.push(e.error);
        if (e.tool !== null) parts.push(e.tool);
      }
    }
  }
  return parts.join("\u0000");
}

/** Whether a warning names `at` or one of its ancestors as a whole address. */
function warned(warnings: readonly string[], at: string): boolean {
  for (const w of warnings) {
    let from = 0;
    for (let i = w.indexOf(at, from); i !== -1; i = w.indexOf(at, from)) {
      const before = i === 0 ? " " : w.charAt(i - 1);
      const after = w.charAt(i + at.length);
      if (!/[A-Za-z0-9_.[\]]/.test(before) && !/[A-Za-z0-9_]/.test(after)) return true;
      from = i + 1;
    }
  }
  // An ancestor: cut the address back one step at a time.
  const up = at.replace(/(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])$/, "");
  return up !== at && up !== "" && warned(warnings, up);
}

function parsedJson(text: string): unknown {
  const t = text.trim();
  if (!(t.startsWith("{") || t.startsWith("["))) return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return undefined;
  }
}

/**
 * The content-bearing string leaves of `doc` that the import of it lost without a word.
 * @param structural whether the string at `at` (under `key`, a property name or an index) is
 *   structure rather than content; a `Set` of property names is the common case
 * @returns the lost leaves in document order, empty when the import accounts for everything
 */
export function unaccounted(
  doc: unknown,
  traces: readonly Trace[],
  structural: ReadonlySet<string> | ((at: string, key: string | number | undefined) => boolean),
): Unaccounted[] {
  const isStructure =
    typeof structural === "function"
      ? structural
      : (_at: string, key: string | number | undefined) => typeof key === "string" && structural.has(key);
  const corpus = eventTexts(traces);
  const warnings = traces.flatMap((t) => t.warnings);
  const lost: Unaccounted[] = [];
  const visit = (node: unknown, at: string, key: string | number | undefined): void => {
    if (typeof node === "string") {
      if (isStructure(at, key)) return;
      const text = node.trim();
      if (text === "" || corpus.includes(text) || warned(warnings, at)) return;
      // Arguments and attributes often hold JSON in a string: its own leaves must be accounted.
      const inner = parsedJson(text);
      if (inner !== undefined) {
        visit(inner, at, undefined);
        return;
      }
      lost.push({ at, text: text.slice(0, 60) });
      return;
    }
    if (Array.isArray(node)) {
      for (const [i, x] of node.entries()) visit(x, push(at, i), i);
    } else if (node !== null && typeof node === "object")
      for (const [k, x] of Object.entries(node)) visit(x, push(at, k), k);
  };
  visit(doc, "", undefined);
  return lost;
}
