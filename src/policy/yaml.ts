import { load } from "js-yaml";
import type { Document, LineCounter, Node } from "yaml";
import { inputError, type ProofError, type SourceLocation } from "../errors.js";
import { MAX_JSON_DEPTH } from "../trace/json.js";
import { CORE, YAML_LIBRARY_ONLY_TEXT } from "./js-yaml-core.js";
import { yamlLibrary } from "./yaml-library.js";

/**
 * A parsed YAML (or JSON) document with what is needed to point back into it. `doc` and `lines`
 * may be computed on first use (a document read by js-yaml is parsed again by the `yaml` library
 * only when something is to be located in it).
 */
export interface ParsedYaml {
  readonly file: string;
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
  readonly value: unknown;
}

/** Keys that would reach an object's prototype chain in some consumer: refused everywhere. */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Deepest nesting of mappings and sequences accepted, aliases expanded: the same bound as JSON
 * documents ({@link MAX_JSON_DEPTH}), so that a YAML context or policy can never hold what the
 * JSON reader would refuse, and code that walks the value recursively keeps its stack.
 */
export const MAX_YAML_DEPTH = MAX_JSON_DEPTH;

/**
 * Most nodes that aliases may add to a document in total: an alias adds every node of its
 * anchor's value, aliases inside included. Real policies reuse a few lists; an alias bomb
 * ("billion laughs") passes the bound after a few levels.
 */
export const MAX_ALIAS_NODES = 10_000;

/**
 * Parses YAML 1.2 (a superset of JSON) as the `yaml` library reads it, keeping what locates a
 * path in it. Most documents are read by js-yaml, several times faster the first time it runs in
 * a process ({@link readFast}); a document it is not certain to read alike, and any document with
 * a problem, is read by the `yaml` library ({@link parseYamlLibrary}), so that every value and
 * every error is the `yaml` library's. Refused, each with file, line and column (exit 6): a
 * syntax error (`yaml.syntax`); a duplicate key; a forbidden key (`__proto__`, `constructor`,
 * `prototype`: `yaml.forbidden_key`); a mapping key that is a mapping, a sequence or an alias
 * (`yaml.complex_key`: JavaScript would turn it into a string such as `[ a, b ]`); a number that
 * is not finite (`.inf`, `-.inf`, `.nan`, or `1e400`, out of the double range:
 * `yaml.number_out_of_range`, as JSON has no such numbers); an integer literal beyond 2^53 - 1 in
 * magnitude (`yaml.integer_out_of_range`: a double would round it, so `9007199254740993` would
 * silently become `...992`); nesting deeper than {@link MAX_YAML_DEPTH} (`yaml.too_deep`, aliases
 * expanded); aliases adding more than {@link MAX_ALIAS_NODES} nodes (`yaml.too_many_aliases`, at
 * the alias that passes the bound) or an alias inside its own anchor (`yaml.recursive_alias`,
 * which would make a cycle).
 * @throws ProofError as listed above.
 */
export function parseYaml(text: string, file: string): ParsedYaml {
  const fast = readFast(text);
  return fast ? new LocatedOnDemand(file, text, fast.value) : parseYamlLibrary(text, file);
}

/**
 * {@link parseYaml} by the `yaml` library alone: the reference the js-yaml path is tested against.
 * @throws ProofError as {@link parseYaml}.
 */
export function parseYamlLibrary(text: string, file: string): ParsedYaml {
  let tree: SyntaxTree;
  try {
    tree = syntaxTree(text);
  } catch (err) {
    if (err instanceof RangeError) throw tooDeep({ file });
    throw err;
  }
  const { doc, lines } = tree;
  const at = (offset: number): SourceLocation => {
    const pos = lines.linePos(offset);
    return { file, line: pos.line, column: pos.col };
  };
  const first = doc.errors[0];
  if (first) {
    // `linePos` is only filled in with `prettyErrors`, which also rewrites the message: take the
    // position from the error's offset instead.
    // The library catches its own stack overflow on deep nesting and reports it as an error.
    if (/call stack/i.test(first.message)) throw tooDeep(at(first.pos[0]));
    // The library's own message for this one tells a programmer to call another function.
    const message =
      first.code === "MULTIPLE_DOCS"
        ? "a second YAML document starts here: a file holds one document"
        : (first.message.split("\n")[0] ?? first.message);
    throw inputError("yaml.syntax", message, at(first.pos[0]));
  }
  checkNodes(doc, text, at);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    if (err instanceof RangeError) throw tooDeep({ file });
    // The library's own bound on alias use (an anchor used more than 100 times): point at the
    // first alias, as the library does not say which one it was resolving.
    throw inputError("yaml.too_many_aliases", (err as Error).message, at(firstAlias(doc) ?? 0));
  }
  return { file, doc, lines, value };
}

/**
 * A document js-yaml read: its `yaml` library syntax tree, which only locating something needs,
 * is built on first use. The `yaml` library reads the text without an error and to the same
 * value ({@link readFast}), so its nodes are those the slow path would have kept.
 */
class LocatedOnDemand implements ParsedYaml {
  #tree: SyntaxTree | undefined;

  constructor(
    readonly file: string,
    private readonly text: string,
    readonly value: unknown,
  ) {}

  get doc(): Document.Parsed {
    this.#tree ??= syntaxTree(this.text);
    return this.#tree.doc;
  }

  get lines(): LineCounter {
    this.#tree ??= syntaxTree(this.text);
    return this.#tree.lines;
  }
}

/** A document's syntax tree by the `yaml` library, and the line index its offsets resolve with. */
interface SyntaxTree {
  doc: Document.Parsed;
  lines: LineCounter;
}

/**
 * The `yaml` library's parse of `text` as both paths of {@link parseYaml} make it (duplicate keys
 * compared as {@link sameKey} does), so that a document read by js-yaml locates its nodes exactly
 * where the slow path would. Errors are in `doc.errors`.
 * @throws RangeError when nesting overflows the parser's stack
 */
function syntaxTree(text: string): SyntaxTree {
  const yaml = yamlLibrary();
  const lines = new yaml.LineCounter();
  const doc = yaml.parseDocument(text, { lineCounter: lines, uniqueKeys: sameKey, prettyErrors: false });
  return { doc, lines };
}

/**
 * Text js-yaml must leave to the `yaml` library here, beyond {@link YAML_LIBRARY_ONLY_TEXT}
 * (what the two read to different values; tags, anchors and aliases are refused node by node,
 * {@link laxNode}): a line over 1,000 characters, since an implicit key may not pass 1,024 in
 * the `yaml` library.
 */
const SLOW_PATH_ONLY = /^.{1000}/m;

/**
 * js-yaml's reading of a document, when it is certain to be the `yaml` library's (the same value,
 * and no error or refusal of {@link parseYaml}): undefined whenever that is not certain, and the
 * slow path decides. Besides {@link SLOW_PATH_ONLY}, every node js-yaml reads is looked at
 * ({@link laxNode}), and a document goes to the slow path for any duplicate key (js-yaml throws),
 * number that is not finite or is an integer beyond 2^53 - 1 (the slow path decides from its
 * literal whether it may stand: `1e20` may), forbidden key or nesting beyond
 * {@link MAX_YAML_DEPTH}. test/policy/yaml-fast.test.ts compares the two paths on every YAML file
 * of the project and on generated documents (which is why this is exported).
 * @returns the value in a box (a document may be null), or undefined for the slow path.
 */
export function readFast(text: string): { value: unknown } | undefined {
  if (YAML_LIBRARY_ONLY_TEXT.test(text) || SLOW_PATH_ONLY.test(text)) return undefined;
  const opened: number[] = [];
  let lax = false;
  let value: unknown;
  try {
    value = load(text, {
      schema: CORE,
      listener(event, state) {
        if (event === "open") {
          opened.push(state.position);
          return;
        }
        const start = opened.pop() ?? 0;
        // A key's number too: js-yaml turns a key into a string only after this event.
        const n = state.result;
        if (
          typeof n === "number" &&
          !(Number.isSafeInteger(n) || (Number.isFinite(n) && !Number.isInteger(n)))
        ) {
          lax = true;
        }
        lax ||= laxNode(text, start, state.position, state.kind, n);
      },
    });
  } catch {
    return undefined;
  }
  if (lax || !plain(value, 0)) return undefined;
  // An empty document (or one of comments only) is null, as the `yaml` library reads it.
  return { value: value === undefined ? null : value };
}

/**
 * Whether js-yaml may have read the node at `start`..`end` of `text` (from its listener: the
 * range may start with the whitespace and comments before the node) where the `yaml` library is
 * stricter: a quoted scalar or flow collection continued on another line (js-yaml does not check the
 * continuation's indentation), a comment glued to its closing quote or bracket; a block scalar
 * with an indentation indicator (js-yaml lets its lines be less indented), a comment glued to its
 * header, a line of spaces only (the `yaml` library refuses leading blank lines indented deeper
 * than the content), or nothing but blank lines (js-yaml may have taken its content for a
 * comment); a tag or an anchor (a node property, YAML 1.2.2 §6.9), or an alias.
 */
function laxNode(text: string, start: number, end: number, kind: string | null, value: unknown): boolean {
  const at = nodeStart(text, start, end);
  const first = text[at];
  // Node properties and aliases: the slow path alone resolves or refuses tags, and bounds how
  // far aliases expand.
  if (first === "!" || first === "&" || first === "*") return true;
  const flow = kind === "scalar" ? first === '"' || first === "'" : first === "[" || first === "{";
  if (flow) return lineBreakIn(text, at, end) || text[end] === "#";
  if (kind !== "scalar" || (first !== "|" && first !== ">")) return false;
  // Blank: js-yaml may have ended it early, at a line it took for a comment.
  if (typeof value === "string" && value.trim() === "") return true;
  const node = text.slice(at, end);
  if (/^[|>][-+]?(?:[0-9]|[-+]?#)/.test(node)) return true;
  // A line of spaces inside the scalar, or ending the document: the spaces that end a node
  // before the next one are that node's indentation.
  const body = end < text.length ? node.replace(/[ ]+$/, "") : node;
  return /\n[ ]+(?:\r?\n|$)/.test(body);
}

/**
 * The offset of the node in the listener's range `start`..`end`, past the whitespace and comments
 * that may precede it (a `#` cannot start a node). Scanned in place: the ranges of nested nodes
 * overlap, and copying each would cost the document's size times its depth.
 */
function nodeStart(text: string, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
    else if (c === 0x23 /* # */) {
      while (i < end && text.charCodeAt(i) !== 0x0a && text.charCodeAt(i) !== 0x0d) i++;
    } else break;
  }
  return i;
}

/** Whether `text` holds a line break between `from` and `to`. */
function lineBreakIn(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) return true;
  }
  return false;
}

/**
 * Whether a js-yaml value holds only what {@link checkNodes} lets through besides numbers (which
 * the listener of {@link readFast} sees, keys included): no forbidden key, collections nested at
 * most {@link MAX_YAML_DEPTH} deep.
 */
function plain(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== "object") return true;
  if (depth + 1 > MAX_YAML_DEPTH) return false;
  if (Array.isArray(value)) return value.every((v) => plain(v, depth + 1));
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key) || !plain((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

function tooDeep(location: SourceLocation): ProofError {
  return inputError(
    "yaml.too_deep",
    `mappings and sequences nested deeper than ${MAX_YAML_DEPTH} levels`,
    location,
  );
}

/**
 * Whether two keys of one mapping are the same key. The `yaml` default compares scalar values
 * strictly, so `1` and `'1'` (or `true` and `'true'`) would both be accepted and then collapse
 * into one JavaScript property, the second silently replacing the first.
 */
function sameKey(a: unknown, b: unknown): boolean {
  const { isScalar } = yamlLibrary();
  return a === b || (isScalar(a) && isScalar(b) && String(a.value) === String(b.value));
}

/**
 * An integer as YAML 1.2's core schema spells one (decimal, `0o` octal, `0x` hex), with an
 * optional sign: the literals that promise an exact value.
 */
const INTEGER_LITERAL = /^[-+]?(?:[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/;

/** What the walk of {@link checkNodes} knows of a node once all of its children are done. */
interface Measure {
  /** Nodes of the value, aliases expanded. */
  size: number;
  /** Nesting of mappings and sequences, aliases expanded (0 for a scalar). */
  height: number;
}

/** A collection being walked: its children still to visit and what is known of the done ones. */
interface Frame {
  node: Node;
  children: unknown[];
  next: number;
  depth: number;
  measure: Measure;
}

/**
 * Checks every node of a parsed document as described in {@link parseYaml}. The walk keeps its
 * own stack: a document nested too deep for a recursive walk is refused, not a crash. Aliases are
 * measured by the memoised size and height of their anchor's value, so a bomb costs arithmetic,
 * never an expansion.
 */
function checkNodes(doc: Document.Parsed, text: string, at: (offset: number) => SourceLocation): void {
  const { isAlias, isMap, isScalar, isSeq } = yamlLibrary();
  const offset = (n: unknown): number => (n as Node | null)?.range?.[0] ?? 0;
  // Anchors by name as the walk meets them: an alias refers to the latest one before it.
  const anchors = new Map<string, Node>();
  const measured = new WeakMap<Node, Measure>();
  let aliasNodes = 0;
  const stack: Frame[] = [];
  /** Visits one node at `depth` (collections it sits in); returns its measure, or undefined when it was pushed. */
  const visit = (node: unknown, depth: number): Measure | undefined => {
    if (node === null || node === undefined) return { size: 1, height: 0 };
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor && !isAlias(node)) anchors.set(anchor, node as Node);
    if (isScalar(node)) {
      if (typeof node.value === "number" && !Number.isFinite(node.value)) {
        const range = node.range ?? [0, 0];
        const source = text.slice(range[0], range[1]).trim().slice(0, 40);
        throw inputError(
          "yaml.number_out_of_range",
          `'${source}' is not a finite number: policies, contexts and traces hold only finite numbers`,
          at(range[0]),
        );
      }
      if (typeof node.value === "number" && !Number.isSafeInteger(node.value)) {
        const range = node.range ?? [0, 0];
        const source = text.slice(range[0], range[1]).trim();
        // Only an integer literal is promised exactly; `1e20` or `0.1` are doubles by their spelling.
        if (INTEGER_LITERAL.test(source)) {
          throw inputError(
            "yaml.integer_out_of_range",
            `'${source.slice(0, 40)}' is an integer beyond 2^53 - 1 (9007199254740991), which a JSON number cannot hold exactly: it would become ${node.value}; quote it to compare it as a string`,
            at(range[0]),
          );
        }
      }
      const measure = { size: 1, height: 0 };
      measured.set(node, measure);
      return measure;
    }
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (!target) return { size: 1, height: 0 }; // the library reported an unknown anchor already
      const measure = measured.get(target);
      if (!measure) {
        throw inputError(
          "yaml.recursive_alias",
          `alias *${node.source} is inside its own anchor &${node.source}: the value would contain itself`,
          at(offset(node)),
        );
      }
      aliasNodes += measure.size;
      if (aliasNodes > MAX_ALIAS_NODES) {
        throw inputError(
          "yaml.too_many_aliases",
          `aliases expand to more than ${MAX_ALIAS_NODES} nodes (alias *${node.source} passes the limit)`,
          at(offset(node)),
        );
      }
      if (depth + measure.height > MAX_YAML_DEPTH) throw tooDeep(at(offset(node)));
      return measure;
    }
    if (depth + 1 > MAX_YAML_DEPTH) throw tooDeep(at(offset(node)));
    const children: unknown[] = [];
    if (isMap(node)) {
      for (const pair of node.items) {
        checkKey(pair.key, at);
        children.push(pair.key, pair.value);
      }
    } else if (isSeq(node)) children.push(...node.items);
    stack.push({ node: node as Node, children, next: 0, depth: depth + 1, measure: { size: 1, height: 1 } });
    return undefined;
  };
  const root = visit(doc.contents, 0);
  if (root) return;
  for (let top = stack.at(-1); top; top = stack.at(-1)) {
    if (top.next < top.children.length) {
      const child = visit(top.children[top.next++], top.depth);
      if (child) {
        top.measure.size += child.size;
        top.measure.height = Math.max(top.measure.height, child.height + 1);
      }
      continue;
    }
    stack.pop();
    measured.set(top.node, top.measure);
    const parent = stack.at(-1);
    if (parent) {
      parent.measure.size += top.measure.size;
      parent.measure.height = Math.max(parent.measure.height, top.measure.height + 1);
    }
  }
}

/** Refuses a mapping key that JavaScript cannot hold as it is, or that reaches a prototype. */
function checkKey(key: unknown, at: (offset: number) => SourceLocation): void {
  if (key === null || key === undefined) return;
  const where = at((key as Node).range?.[0] ?? 0);
  if (!yamlLibrary().isScalar(key)) {
    throw inputError(
      "yaml.complex_key",
      "a mapping key must be a plain value (a string or a number), not a mapping, a sequence or an alias",
      where,
    );
  }
  if (typeof key.value === "string" && FORBIDDEN_KEYS.has(key.value)) {
    throw inputError("yaml.forbidden_key", `key '${key.value}' is not allowed`, where);
  }
}

/** Offset of the first alias in the document, if any. */
function firstAlias(doc: Document.Parsed): number | undefined {
  let found: number | undefined;
  const { visit } = yamlLibrary();
  visit(doc, {
    Alias(_key, node) {
      found = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return found;
}

/**
 * Location of the node at a JSON-pointer-like path (`["rules", 0, "match"]`). With `key`, the
 * location of that key inside the map at `path` (for unknown-key errors). Falls back to the
 * nearest ancestor that exists.
 */
export function locate(parsed: ParsedYaml, path: readonly (string | number)[], key?: string): SourceLocation {
  const { isMap, isPair, isScalar, isSeq } = yamlLibrary();
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
