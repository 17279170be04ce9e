import { compilePattern, quoteMeta } from "./re2.js";

/** Whether a tool name pattern uses glob syntax (`*`, `?`, `[...]`). */
export function isGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/**
 * Compiles a tool-name glob to a matcher: `*` any run of characters, `?` one character,
 * `[abc]` / `[!abc]` a class; everything else literal; anchored at both ends. Tool names have no
 * path separators, so the path semantics of file-glob libraries do not apply, and those libraries
 * compile to JavaScript RegExp, which user patterns must never reach: this goes through RE2.
 *
 * A tool name is data from the agent's world, so every character counts, line breaks included:
 * the pattern runs with RE2's `s` flag (`.` matches `\n`) and is anchored with `\A` and `\z`, so
 * `send_*` matches `send_\nmoney` and `send_money` does not match `send_money\n` (a negated
 * class such as `[!a]` matches `\n` in RE2 without any flag).
 * @throws Error when a class is left unclosed.
 */
export function compileGlob(glob: string): (name: string) => boolean {
  if (!isGlob(glob)) return (name) => name === glob;
  let re = "(?s)\\A";
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      // A `]` right after `[` or `[!` is a member, not the end (`[]]`, `[!]]`), as in POSIX globs.
      const end = glob.indexOf("]", i + (glob.charAt(i + 1) === "!" ? 3 : 2));
      if (end < 0) throw new Error(`unclosed '[' in tool pattern '${glob}'`);
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith("!");
      if (negate) body = body.slice(1);
      re += `[${negate ? "^" : ""}${body.replace(/[\\[\]^]/g, "\\$&")}]`;
      i = end;
    } else re += quoteMeta(c);
  }
  // No match budget: a glob's program is about as long as the glob, and a tool name is matched
  // wherever it appears (candidate rules, sources), where refusing it could only crash.
  const pattern = compilePattern(`${re}\\z`, Number.POSITIVE_INFINITY);
  return (name) => pattern.test(name);
}
