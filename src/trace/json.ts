import { type ParseError, parse as parseLenient, printParseErrorCode } from "jsonc-parser";
import { inputError, offsetToLineColumn } from "../errors.js";

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
 * Parses strict JSON with the built-in parser (fast path). On failure, re-reads the text with
 * `jsonc-parser` (comments and trailing commas disallowed) only to find where the first error is.
 * @param line the 1-based line the text starts on (for one line of a JSON Lines file)
 * @throws ProofError `trace.invalid_json` (exit 6) with file, line and column.
 */
export function parseJson(text: string, file: string, line = 1): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
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
    throw inputError("trace.invalid_json", `invalid JSON: ${what}${truncated}`, {
      file,
      line: line + pos.line - 1,
      column: pos.column,
    });
  }
}
