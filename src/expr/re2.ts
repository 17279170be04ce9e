import { RE2JS } from "@bufbuild/re2";

/** A compiled user pattern: linear-time matching, so no pattern can hang the gate. */
export interface Pattern {
  readonly source: string;
  test(text: string): boolean;
}

/**
 * Compiles a user-supplied regular expression with RE2 syntax (the RE2JS engine of
 * `@bufbuild/re2`, the one `@bufbuild/cel` uses). Never JavaScript RegExp: RE2 has no
 * backtracking, so matching time is linear in the input.
 * @throws Error with RE2's own message (e.g. "missing closing )") when the pattern is invalid.
 */
export function compilePattern(source: string): Pattern {
  const re = new RE2JS(source);
  return { source, test: (text: string) => re.test(text) };
}

/** Escapes RE2 metacharacters so a literal string matches itself. */
export function quoteMeta(literal: string): string {
  return literal.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}
