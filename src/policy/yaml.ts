import { type Document, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { inputError, type SourceLocation } from "../errors.js";

/** A parsed YAML (or JSON) document with what is needed to point back into it. */
export interface ParsedYaml {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  value: unknown;
}

/** Keys that would reach an object's prototype chain in some consumer: refused everywhere. */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Parses YAML 1.2 (a superset of JSON) with the `yaml` library, keeping line positions.
 * Duplicate keys and forbidden keys (`__proto__`, `constructor`, `prototype`) are errors.
 * @throws ProofError `yaml.syntax` / `yaml.forbidden_key` (exit 6) naming file, line and column.
 */
export function parseYaml(text: string, file: string): ParsedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: sameKey, prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    // `linePos` is only filled in with `prettyErrors`, which also rewrites the message: take the
    // position from the error's offset instead.
    const pos = lines.linePos(first.pos[0]);
    // The library's own message for this one tells a programmer to call another function.
    const message =
      first.code === "MULTIPLE_DOCS"
        ? "a second YAML document starts here: a file holds one document"
        : (first.message.split("\n")[0] ?? first.message);
    throw inputError("yaml.syntax", message, {
      file,
      line: pos.line,
      column: pos.col,
    });
  }
  checkKeys(doc.contents, file, lines);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // The only way toJS fails on a document without errors: an alias bomb ("billion laughs").
    throw inputError("yaml.too_many_aliases", (err as Error).message, { file });
  }
  return { file, doc, lines, value };
}

/**
 * Whether two keys of one mapping are the same key. The `yaml` default compares scalar values
 * strictly, so `1` and `'1'` (or `true` and `'true'`) would both be accepted and then collapse
 * into one JavaScript property, the second silently replacing the first.
 */
function sameKey(a: unknown, b: unknown): boolean {
  return a === b || (isScalar(a) && isScalar(b) && String(a.value) === String(b.value));
}

function checkKeys(node: unknown, file: string, lines: LineCounter): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      if (typeof key === "string" && FORBIDDEN_KEYS.has(key)) {
        const at = lines.linePos((pair.key as Node).range?.[0] ?? 0);
        throw inputError("yaml.forbidden_key", `key '${key}' is not allowed`, {
          file,
          line: at.line,
          column: at.col,
        });
      }
      checkKeys(pair.value, file, lines);
    }
  } else if (isSeq(node)) {
    for (const item of node.items) checkKeys(item, file, lines);
  }
}

/**
 * Location of the node at a JSON-pointer-like path (`["rules", 0, "match"]`). With `key`, the
 * location of that key inside the map at `path` (for unknown-key errors). Falls back to the
 * nearest ancestor that exists.
 */
export function locate(parsed: ParsedYaml, path: readonly (string | number)[], key?: string): SourceLocation {
  let node: unknown = parsed.doc.contents;
  let best: Node | undefined = node as Node;
  for (const segment of path) {
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      next = pair?.value;
    } else if (isSeq(node)) next = node.items[Number(segment)];
    if (next === undefined || next === null) break;
    node = next;
    best = node as Node;
  }
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
    if (pair && isScalar(pair.key)) best = pair.key;
  }
  const offset = best?.range?.[0] ?? 0;
  const pos = parsed.lines.linePos(offset);
  return { file: parsed.file, line: pos.line, column: pos.col };
}

/** Splits an ajv instance path (`/rules/0/match`) into segments, numbers for array indices. */
export function pointerSegments(pointer: string): (string | number)[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** Renders path segments as `rules[0].match.tool` for messages. */
export function pathLabel(path: readonly (string | number)[]): string {
  let out = "";
  for (const s of path) out += typeof s === "number" ? `[${s}]` : out ? `.${s}` : s;
  return out || "(document)";
}
