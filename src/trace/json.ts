import { type ParseError, parse as parseLenient, printParseErrorCode, visit } from "jsonc-parser";
import { inputError, offsetToLineColumn, type SourceLocation } from "../errors.js";

const READABLE: Record<string, string> = {
  InvalidSymbol: "invalid character",
  ValueExpected: "a value was expected",
  CloseBraceExpected: "'}' was expected",
  CloseBracketExpected: "']' was expected",
  ColonExpected: "':' was expected",
  CommaExpected: "',' was expected",
  PropertyNameExpected: "a property name was expected",
  EndOfFileExpected: "unexpected content after the JSON value",
  UnexpectedEndOfString: "unterminated string",
  InvalidCommentToken: "comments are not JSON",
};

/**
 * Deepest nesting of arrays and objects accepted in any JSON document proof reads (traces, IR,
 * plans, baselines, calls, JSON-RPC messages). Real documents stay far below it; past it, code
 * that walks a document recursively (canonical JSON, matchers, schema validation) would run out
 * of stack instead of failing with a located error.
 */
export const MAX_JSON_DEPTH = 512;

/**
 * Parses strict JSON with the built-in parser (fast path), then refuses what `JSON.parse` accepts
 * silently but a reader of the same bytes may see differently:
 * - a key given twice in one object (`JSON.parse` keeps the last, other parsers the first: a
 *   parser differential that lets one value be judged and another acted on);
 * - a number outside the double range (`1e400` becomes `Infinity`, which no JSON can hold);
 * - nesting deeper than {@link MAX_JSON_DEPTH}.
 * On any failure the text is re-read with `jsonc-parser` (comments and trailing commas
 * disallowed) only to find where the first problem is.
 * @param line the 1-based line the text starts on (for one line of a JSON Lines file)
 * @throws ProofError (exit 6) with file, line and column: `trace.invalid_json` for a syntax
 *   error, `json.duplicate_key`, `json.number_out_of_range`, `json.too_deep`.
 */
export function parseJson(text: string, file: string, line = 1): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw syntaxError(text, file, line, err);
  }
  // Scalars have nothing to check; `JSON.parse` only yields Infinity from an out-of-range literal.
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value))
      throw located(text, file, line, 0, "json.number_out_of_range", "number out of range");
    return value;
  }
  const scan = scanStructure(text);
  if (scan.tooDeepAt >= 0) {
    throw located(
      text,
      file,
      line,
      scan.tooDeepAt,
      "json.too_deep",
      `arrays and objects nested deeper than ${MAX_JSON_DEPTH} levels`,
    );
  }
  const tally = { keys: 0, nonFinite: false };
  countKeys(value, tally);
  if (tally.keys !== scan.properties || tally.nonFinite) throw firstAmbiguity(text, file, line);
  return value;
}

function syntaxError(text: string, file: string, line: number, err: unknown): Error {
  const errors: ParseError[] = [];
  parseLenient(text, errors, {
    disallowComments: true,
    allowTrailingComma: false,
    allowEmptyContent: false,
  });
  const first = errors[0];
  const offset = first ? first.offset : text.length;
  const pos = offsetToLineColumn(text, offset);
  const what = first
    ? (READABLE[printParseErrorCode(first.error)] ?? printParseErrorCode(first.error))
    : (err as Error).message;
  // The text stops early when the first error is at its end (a value or `}` expected there) or
  // is a string still open there (such an error sits at the string's opening quote).
  const end = text.trimEnd().length;
  const truncated =
    first &&
    (first.offset >= end ||
      (printParseErrorCode(first.error) === "UnexpectedEndOfString" && first.offset + first.length >= end))
      ? " (the file looks truncated)"
      : "";
  return inputError("trace.invalid_json", `invalid JSON: ${what}${truncated}`, {
    file,
    line: line + pos.line - 1,
    column: pos.column,
  });
}

function located(text: string, file: string, line: number, offset: number, code: string, message: string) {
  const pos = offsetToLineColumn(text, offset);
  const location: SourceLocation = { file, line: line + pos.line - 1, column: pos.column };
  return inputError(code, message, location);
}

/**
 * One pass over the text outside strings: the number of object members (each `:` outside a string
 * starts one) and the offset where nesting first exceeds {@link MAX_JSON_DEPTH} (-1 if never).
 * Only called on text `JSON.parse` accepted, so strings are well formed.
 */
function scanStructure(text: string): { properties: number; tooDeepAt: number } {
  let properties = 0;
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // Jump to the closing quote: the first one not escaped by an odd run of backslashes.
      let j = text.indexOf('"', i + 1);
      for (;;) {
        let k = j - 1;
        while (text.charCodeAt(k) === 92 /* \ */) k--;
        if ((j - 1 - k) % 2 === 0) break;
        j = text.indexOf('"', j + 1);
      }
      i = j;
    } else if (c === 58 /* : */) properties++;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > MAX_JSON_DEPTH) return { properties, tooDeepAt: i };
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return { properties, tooDeepAt: -1 };
}

/** Counts the own keys of every object in a parsed value and notes any non-finite number. */
function countKeys(value: unknown, tally: { keys: number; nonFinite: boolean }): void {
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item !== null && typeof item === "object") countKeys(item, tally);
      else if (typeof item === "number" && !Number.isFinite(item)) tally.nonFinite = true;
    }
    return;
  }
  const obj = value as Record<string, unknown>;
  for (const key in obj) {
    tally.keys++;
    const item = obj[key];
    if (item !== null && typeof item === "object") countKeys(item, tally);
    else if (typeof item === "number" && !Number.isFinite(item)) tally.nonFinite = true;
  }
}

/** Slow path: walks the tokens to find the first duplicate key or out-of-range number. */
function firstAmbiguity(text: string, file: string, line: number): Error {
  const seen: Set<string>[] = [];
  let found: Error | undefined;
  visit(text, {
    onObjectBegin: () => {
      seen.push(new Set());
    },
    onObjectEnd: () => {
      seen.pop();
    },
    onObjectProperty: (property, offset) => {
      if (found) return;
      const keys = seen[seen.length - 1] as Set<string>;
      if (keys.has(property)) {
        found = located(
          text,
          file,
          line,
          offset,
          "json.duplicate_key",
          `key ${JSON.stringify(property)} appears twice in one object: readers disagree on which value counts`,
        );
      }
      keys.add(property);
    },
    onLiteralValue: (value, offset) => {
      if (!found && typeof value === "number" && !Number.isFinite(value))
        found = located(text, file, line, offset, "json.number_out_of_range", "number out of range");
    },
  });
  return (
    found ?? inputError("json.ambiguous", "the JSON document could not be read unambiguously", { file, line })
  );
}
