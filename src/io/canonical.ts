import { createHash } from "node:crypto";
import canonicalize from "canonicalize";

/**
 * Canonical JSON as RFC 8785 (JSON Canonicalization Scheme) defines it: keys sorted by UTF-16
 * code units, ECMAScript number serialisation, no insignificant whitespace. Used for digests.
 * @throws TypeError when the value holds something JSON cannot represent (a BigInt, a cycle).
 */
export function canonicalJson(value: unknown): string {
  let out: string | undefined;
  try {
    out = JSON.stringify(sortedCopy(value, 0));
  } catch (err) {
    if (err !== UNUSUAL) throw err;
    // Anything beyond plain parsed JSON (a toJSON method, undefined in an array, a cycle, NaN, an
    // integer-like key...) is left to the library: its results and errors.
    out = canonicalize(value);
  }
  if (out === undefined) throw new TypeError("value has no JSON representation");
  return out;
}

/** Thrown by {@link sortedCopy} when a value needs the library's full treatment. */
const UNUSUAL = Symbol("unusual");
/** Deeper than this is treated as unusual (the library then detects cycles). */
const MAX_DEPTH = 256;

/**
 * The hot path of trace ids and decision lines, several times faster than the library on plain
 * JSON values (what JSON.parse returns): the value with its object keys in UTF-16 code-unit order
 * (Array#sort's default), which the built-in JSON.stringify then serialises with RFC 8785's
 * number and string forms, exactly as `canonicalize` (itself JSON.stringify for primitives) does.
 * Copy on need: a plain object whose keys are already in order, and whose members need no copy,
 * is returned itself, and an array only becomes a copy from its first element that is one, so
 * that already-ordered data (most of a trace's) is walked but not copied. Keys that JavaScript
 * would not keep in insertion order (integer-like: those starting with a digit, conservatively)
 * and `__proto__` are unusual, as is any value the library would reject or treat specially.
 * @throws UNUSUAL for anything but plain, finite JSON.
 */
function sortedCopy(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case "string":
      // A lone surrogate (valid as a JSON escape, invalid Unicode) is outside RFC 8785, which
      // would refuse it; JSON.stringify writes it as a \uXXXX escape, which is deterministic, so a
      // recorded trace holding one still gets a stable digest instead of failing the gate.
      return value;
    case "number":
      if (!Number.isFinite(value)) throw UNUSUAL;
      return value;
    case "boolean":
      return value;
    case "object": {
      if (value === null) return null;
      if (depth > MAX_DEPTH) throw UNUSUAL;
      if (Array.isArray(value)) {
        let out: unknown[] | undefined;
        for (let i = 0; i < value.length; i++) {
          const v: unknown = value[i];
          if (v === undefined) throw UNUSUAL;
          const c = sortedCopy(v, depth + 1);
          if (out) out[i] = c;
          else if (c !== v) {
            out = value.slice(0, i + 1);
            out[i] = c;
          }
        }
        return out ?? value;
      }
      if (typeof (value as { toJSON?: unknown }).toJSON === "function") throw UNUSUAL;
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      // Only a plain object can stand for itself: JSON.stringify writes a boxed primitive (a
      // Number object, say) as its primitive, where the copy is `{}`.
      let same = Object.getPrototypeOf(record) === Object.prototype;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        const c = key.charCodeAt(0);
        if ((c >= 48 && c <= 57) || key === "__proto__") throw UNUSUAL;
        if (same && i > 0 && (keys[i - 1] as string) > key) same = false;
      }
      if (same) {
        let out: Record<string, unknown> | undefined;
        for (let i = 0; i < keys.length; i++) {
          const key = keys[i] as string;
          const v = record[key];
          if (v === undefined) continue;
          const c = sortedCopy(v, depth + 1);
          if (c !== v && !out) {
            out = {};
            for (let j = 0; j < i; j++) {
              const k = keys[j] as string;
              if (record[k] !== undefined) out[k] = record[k];
            }
          }
          if (out) out[key] = c;
        }
        return out ?? value;
      }
      const out: Record<string, unknown> = {};
      for (const key of keys.sort()) {
        const v = record[key];
        if (v === undefined) continue;
        out[key] = sortedCopy(v, depth + 1);
      }
      return out;
    }
    default:
      throw UNUSUAL;
  }
}

/**
 * The on-disk form of every artifact (docs/artifacts.md): RFC 8785 key order, pretty-printed with two
 * spaces and a final newline, so that files are readable and byte-identical across runs.
 */
export function prettyJson(value: unknown): string {
  return `${prettyText(value)}\n`;
}

/**
 * The pretty JSON of a value, keys in UTF-16 code-unit order at every level (RFC 8785 §3.2.3), two
 * spaces per level, no final newline. JSON.stringify writes the sorted copy in its property order,
 * which is the sorted order except where JavaScript puts a key first for being an array index
 * ("10" before "9" by code units, "9" before "10" as properties): only a value holding such a key
 * in an object of two or more is written by {@link orderedText}.
 */
function prettyText(value: unknown): string {
  const found = { indexKeys: false };
  const copy = sortKeys(value, found);
  return found.indexKeys ? orderedText(copy, "") : JSON.stringify(copy, null, 2);
}

/**
 * JSON.stringify(copy, null, 2) with each object's keys written in code-unit order whatever its
 * property order. `copy` is what {@link sortKeys} returns: arrays, plain objects without undefined
 * members, and leaves, each leaf written as JSON.stringify writes it (a member without a JSON form,
 * a function say, is left out; such an element is null).
 */
function orderedText(copy: unknown, indent: string): string {
  if (copy === null || typeof copy !== "object") return JSON.stringify(copy);
  const inner = `${indent}  `;
  if (Array.isArray(copy)) {
    if (copy.length === 0) return "[]";
    // By index, not `map`: a hole is an element too, written as null.
    const items: string[] = [];
    for (let i = 0; i < copy.length; i++) items.push(`${inner}${orderedText(copy[i], inner) ?? "null"}`);
    return `[\n${items.join(",\n")}\n${indent}]`;
  }
  const record = copy as Record<string, unknown>;
  const members: string[] = [];
  for (const key of Object.keys(record).sort()) {
    const text = orderedText(record[key], inner) as string | undefined;
    if (text !== undefined) members.push(`${inner}${JSON.stringify(key)}: ${text}`);
  }
  return members.length === 0 ? "{}" : `{\n${members.join(",\n")}\n${indent}}`;
}

/** Whether `key` is an array index, which JavaScript lists before an object's other keys. */
function isIndexKey(key: string): boolean {
  const c = key.charCodeAt(0);
  if (c < 48 || c > 57) return false;
  return /^(?:0|[1-9][0-9]*)$/.test(key) && Number(key) < 2 ** 32 - 1;
}

/**
 * {@link prettyJson} of a value as a sequence of strings whose concatenation is exactly its
 * bytes: the containers of the first `depth` levels are opened and closed here, and each value
 * below them is one string, so that a large artifact (`report.json`, one string per trace) can be
 * written without one string of the whole document. Plain JSON only (what a report holds): no
 * `toJSON`; an `undefined` member is left out, an `undefined` element is `null`, as
 * JSON.stringify does.
 */
export function* prettyJsonParts(value: unknown, depth = 2): Generator<string> {
  yield* partsOf(value, "", depth);
  yield "\n";
}

/**
 * A list whose elements are already rendered: `[PRETTY_PARTS](indent)` gives each element's
 * {@link prettyJsonAt} text at `indent`, in order. {@link prettyJsonParts} writes such a list as
 * the JSON array of those elements, so that a list kept outside memory (report entries spilled to
 * a file) is written without being read back as values.
 */
export const PRETTY_PARTS: unique symbol = Symbol("prettyParts");

/** A list {@link prettyJsonParts} writes from its elements' rendered texts (see {@link PRETTY_PARTS}). */
export interface PrettyPartsList {
  [PRETTY_PARTS](indent: string): Iterable<string>;
}

function isPartsList(value: object): value is PrettyPartsList {
  return typeof (value as Partial<PrettyPartsList>)[PRETTY_PARTS] === "function";
}

/**
 * One value as {@link prettyJsonParts} writes it when it is nested at `indent` (two spaces per
 * level): its pretty JSON with every line after the first indented, no final newline.
 */
export function prettyJsonAt(value: unknown, indent: string): string {
  const text = prettyText(value);
  return indent === "" ? text : text.replaceAll("\n", `\n${indent}`);
}

function* partsOf(value: unknown, indent: string, depth: number): Generator<string> {
  if (depth > 0 && value !== null && typeof value === "object" && isPartsList(value)) {
    const inner = `${indent}  `;
    let first = true;
    for (const text of value[PRETTY_PARTS](inner)) {
      yield `${first ? "[" : ","}\n${inner}`;
      yield text;
      first = false;
    }
    yield first ? "[]" : `\n${indent}]`;
    return;
  }
  if (depth > 0 && value !== null && typeof value === "object") {
    const inner = `${indent}  `;
    if (Array.isArray(value)) {
      if (value.length === 0) {
        yield "[]";
        return;
      }
      yield "[";
      for (let i = 0; i < value.length; i++) {
        yield `${i === 0 ? "" : ","}\n${inner}`;
        const v: unknown = value[i];
        yield* partsOf(v === undefined ? null : v, inner, depth - 1);
      }
      yield `\n${indent}]`;
      return;
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .sort()
      .filter((k) => record[k] !== undefined);
    if (keys.length === 0) {
      yield "{}";
      return;
    }
    yield "{";
    for (const [i, key] of keys.entries()) {
      yield `${i === 0 ? "" : ","}\n${inner}${JSON.stringify(key)}: `;
      yield* partsOf((value as Record<string, unknown>)[key], inner, depth - 1);
    }
    yield `\n${indent}}`;
    return;
  }
  // JSON strings hold no raw line break, so every line break is one of the layout's.
  yield prettyJsonAt(value, indent);
}

/** One line of a JSON Lines artifact: canonical key order, no whitespace, final newline. */
export function jsonLine(value: unknown): string {
  return `${canonicalJson(value)}\n`;
}

/**
 * A copy of a value with each object's keys inserted in code-unit order (what RFC 8785 §3.2.3
 * prescribes and Array#sort does by default) and its undefined members left out; sets
 * `found.indexKeys` when an object of two keys or more has an array-index key, whose property
 * order JavaScript does not take from insertion (see {@link prettyText}).
 */
function sortKeys(value: unknown, found: { indexKeys: boolean }): unknown {
  if (Array.isArray(value)) return value.map((v) => sortKeys(v, found));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    const keys = Object.keys(value).sort();
    if (!found.indexKeys && keys.length > 1 && keys.some(isIndexKey)) found.indexKeys = true;
    for (const key of keys) {
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined) continue;
      // An assignment to `__proto__` would set the copy's prototype and drop the member (a
      // recorded tool call may well have such an argument, which JSON.parse keeps as a member).
      if (key === "__proto__")
        Object.defineProperty(out, key, {
          value: sortKeys(v, found),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else out[key] = sortKeys(v, found);
    }
    return out;
  }
  return value;
}

/** Lowercase hex SHA-256 of a UTF-8 string or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** `sha256:` + hex SHA-256 of the value's canonical JSON: the digest form of docs/policy.md. */
export function digestOf(value: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(value))}`;
}

/**
 * The {@link digestOf} of an array whose elements are given one at a time: `sha256:` + hex SHA-256
 * of the array's canonical JSON (RFC 8785 §3.2.2: `[`, the elements' canonical JSON separated by
 * `,`, `]`), without the array or its whole JSON ever held in memory.
 * @throws TypeError from {@link add} as {@link canonicalJson} does (a BigInt, a cycle, undefined).
 */
export class CanonicalArrayHash {
  private readonly hash = createHash("sha256");
  /**
   * Text not yet hashed. Elements are gathered so that the hash is updated once per ~64 KiB:
   * each update is a call into C++ and a UTF-8 conversion, and one per element (a trace's events
   * are mostly small) cost more than the hashing itself.
   */
  private pending = "[";
  private first = true;

  /** Appends one element (an `undefined` element is `null`, as in an array's JSON). */
  add(value: unknown): void {
    this.addCanonical(value === undefined ? "null" : canonicalJson(value));
  }

  /**
   * Appends one element given as its canonical JSON already (RFC 8785, as {@link canonicalJson}
   * writes it): for a caller that writes a value of a known shape faster than the general walk.
   */
  addCanonical(json: string): void {
    this.pending = this.first ? this.pending + json : `${this.pending},${json}`;
    this.first = false;
    if (this.pending.length >= PENDING_CHARS) {
      this.hash.update(this.pending);
      this.pending = "";
    }
  }

  /** `sha256:` + lowercase hex; the hash cannot be added to afterwards. */
  digest(): string {
    return `sha256:${this.hash.update(`${this.pending}]`).digest("hex")}`;
  }
}

/** UTF-16 code units of element text {@link CanonicalArrayHash} gathers before hashing them. */
const PENDING_CHARS = 64 * 1024;
