/**
 * Field paths of provenance `sources` (docs/policy.md, "Fields of structured results"): where a
 * leaf sits inside a tool result that is JSON or YAML, and patterns over such places.
 *
 * Grammar (a path is one or more segments, written without spaces):
 *
 *     path     = first { "." name-seg | bracket }
 *     first    = name-seg | bracket
 *     name-seg = name | "*" | "**"
 *     bracket  = "[" ( "*" | digits | json-string ) "]"
 *
 * `name` is a mapping key of letters, digits and `_ - $ @ : / + ~ !` ; any other key (one with a
 * dot, a space, a bracket, a quote, or the empty key) is written as a JSON string in brackets:
 * `["content.type"]`. `*` is any one mapping key, `[*]` any one list index, `[3]` the list index 3,
 * and `**` any run of zero or more segments. Concrete paths (evidence) use the same syntax
 * without wildcards: `[2].recipient`, `meta["content.type"]`.
 */

/** One segment of a concrete path: a mapping key or a list index. */
export type PathStep = string | number;

/** One segment of a field pattern. */
export type PatternSegment =
  | { kind: "key"; key: string }
  | { kind: "index"; index: number }
  | { kind: "any_key" }
  | { kind: "any_index" }
  | { kind: "any_depth" };

/** A field path that does not follow the grammar; `offset` is where it goes wrong (code units). */
export class FieldPathError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = "FieldPathError";
  }
}

const NAME_CHAR = /[A-Za-z0-9_\-$@:/+~!]/;
const NAME = /^[A-Za-z0-9_\-$@:/+~!]+$/;

/**
 * Parses a field pattern such as `[*].recipient`, `**.subject` or `meta["a.b"][0]`.
 * @throws FieldPathError naming the offset of the first problem.
 */
export function parseFieldPattern(source: string): PatternSegment[] {
  const out: PatternSegment[] = [];
  let i = 0;
  const fail = (message: string): never => {
    throw new FieldPathError(`${message} at offset ${i} of field path '${source}'`, i);
  };
  const nameSegment = (): void => {
    if (source.startsWith("**", i)) {
      out.push({ kind: "any_depth" });
      i += 2;
    } else if (source[i] === "*") {
      out.push({ kind: "any_key" });
      i += 1;
    } else {
      const start = i;
      while (i < source.length && NAME_CHAR.test(source[i] as string)) i++;
      if (i === start) fail("expected a key, '*' or '**'");
      out.push({ kind: "key", key: source.slice(start, i) });
    }
    const next = source[i];
    if (next !== undefined && next !== "." && next !== "[") fail(`unexpected '${next}'`);
  };
  const bracket = (): void => {
    i++; // "["
    if (source[i] === "*") {
      out.push({ kind: "any_index" });
      i++;
    } else if (source[i] === '"') {
      // A JSON string: find its end (a quote not escaped), then let JSON read the escapes.
      const start = i;
      i++;
      while (i < source.length && source[i] !== '"') i += source[i] === "\\" ? 2 : 1;
      if (i >= source.length) fail("unterminated quoted key");
      i++;
      let key: unknown;
      try {
        key = JSON.parse(source.slice(start, i));
      } catch {
        i = start;
        fail("invalid escape in quoted key");
      }
      out.push({ kind: "key", key: key as string });
    } else {
      const start = i;
      while (i < source.length && (source[i] as string) >= "0" && (source[i] as string) <= "9") i++;
      if (i === start) fail("expected '*', a list index or a quoted key");
      const digits = source.slice(start, i);
      if (digits.length > 1 && digits.startsWith("0")) {
        i = start;
        fail("a list index has no leading zero");
      }
      const index = Number(digits);
      if (!Number.isSafeInteger(index)) {
        i = start;
        fail("list index too large");
      }
      out.push({ kind: "index", index });
    }
    if (source[i] !== "]") fail("expected ']'");
    i++;
  };
  if (source.length === 0) fail("empty field path");
  if (source[0] === "[") bracket();
  else nameSegment();
  while (i < source.length) {
    if (source[i] === ".") {
      i++;
      nameSegment();
    } else if (source[i] === "[") bracket();
    else fail(`unexpected '${source[i]}'`);
  }
  return out;
}

function keyText(key: string): string {
  return NAME.test(key) ? key : `[${JSON.stringify(key)}]`;
}

/** The canonical text of a pattern: what the IR stores and digests (`a.["b"]` is `a.b`). */
export function formatFieldPattern(segments: readonly PatternSegment[]): string {
  let out = "";
  for (const s of segments) {
    const dot = out === "" ? "" : ".";
    switch (s.kind) {
      case "key":
        out += NAME.test(s.key) ? `${dot}${s.key}` : keyText(s.key);
        break;
      case "index":
        out += `[${s.index}]`;
        break;
      case "any_index":
        out += "[*]";
        break;
      case "any_key":
        out += `${dot}*`;
        break;
      case "any_depth":
        out += `${dot}**`;
        break;
    }
  }
  return out;
}

/** The text of a concrete path (`[2].recipient`); the empty path (the whole content) is "". */
export function formatPath(steps: readonly PathStep[]): string {
  let out = "";
  for (const s of steps) {
    if (typeof s === "number") out += `[${s}]`;
    else out += NAME.test(s) ? `${out === "" ? "" : "."}${s}` : keyText(s);
  }
  return out;
}

/**
 * Whether a concrete path matches a pattern. `**` makes this a small dynamic programme over
 * (segment, step) pairs; patterns and paths are short, and results are cached by the caller.
 */
export function matchesFieldPattern(pattern: readonly PatternSegment[], steps: readonly PathStep[]): boolean {
  // reach[j]: the first i segments can consume exactly the first j steps.
  let reach = new Array<boolean>(steps.length + 1).fill(false);
  reach[0] = true;
  for (const seg of pattern) {
    const next = new Array<boolean>(steps.length + 1).fill(false);
    for (let j = 0; j <= steps.length; j++) {
      if (!reach[j]) continue;
      if (seg.kind === "any_depth") {
        for (let k = j; k <= steps.length; k++) next[k] = true;
        break;
      }
      const step = steps[j];
      if (step === undefined) continue;
      const ok =
        seg.kind === "any_key"
          ? typeof step === "string"
          : seg.kind === "any_index"
            ? typeof step === "number"
            : seg.kind === "key"
              ? step === seg.key
              : step === seg.index;
      if (ok) next[j + 1] = true;
    }
    reach = next;
  }
  return reach[steps.length] === true;
}
