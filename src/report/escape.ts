/**
 * Escaping of attacker-controlled trace text for each published medium (DESIGN.md §7). Trace
 * content, tool names, argument values and even file names come from the agent's world.
 */

import { sha256Hex } from "../io/canonical.js";

/** Longest argument value shown in a public artifact. */
export const MAX_PUBLIC_VALUE = 64;

/** Shortens a value to {@link MAX_PUBLIC_VALUE} characters (code points), marking the cut. */
export function shorten(value: string, max = MAX_PUBLIC_VALUE): string {
  const chars = [...value];
  return chars.length <= max ? value : `${chars.slice(0, max - 1).join("")}…`;
}

/**
 * Makes text inert inside a GitHub-flavoured markdown table cell: HTML special characters become
 * entities (no tag, comment or entity can open), markdown punctuation is backslash-escaped,
 * line breaks and control characters become spaces, and `::` cannot start a workflow command.
 */
export function escapeMarkdown(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
      .replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, " ")
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/[\\`*_{}[\]()#+\-.!|~:@]/g, "\\$&")
  );
}

/** Inline code span for identifiers we produced (digests, verdicts); backticks cannot occur there. */
export function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

/**
 * How a matched argument value appears in a public artifact (SARIF, summary, annotations, JUnit;
 * DESIGN.md §7): shortened to {@link MAX_PUBLIC_VALUE} characters, or with `redact` replaced by
 * `sha256:` and the first 8 hex digits of the SHA-256 of its UTF-8 bytes, then `…`. The prefix
 * lets a reviewer match a value they already know without the artifact revealing it.
 * Still raw text: each medium escapes the result.
 */
export function publicValue(value: string, redact: boolean): string {
  return redact ? `sha256:${sha256Hex(value).slice(0, 8)}…` : shorten(value);
}
