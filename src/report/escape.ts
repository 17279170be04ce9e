/**
 * Escaping and bounding of attacker-controlled trace text for each published medium. Trace
 * content, tool names, argument values, event addresses and even file names come from the agent's
 * world: they can hold line breaks, terminal escape sequences, bidirectional overrides, workflow
 * commands, markup, and any length.
 */

import { sha256Hex } from "../io/canonical.js";

/** Longest argument value or evaluation message shown in a public artifact, in code points. */
export const MAX_PUBLIC_VALUE = 64;

/** Longest case id, tool name, event address, file name or rule list shown, in code points. */
export const MAX_PUBLIC_NAME = 200;

/** Most pieces of evidence listed for one finding in a public artifact; the rest are counted. */
export const MAX_PUBLIC_EVIDENCE = 5;

/**
 * Code points that must not reach a published medium as themselves: C0 and C1 controls and DEL
 * (line breaks, ANSI escape sequences), the line and paragraph separators, bidirectional
 * embeddings, overrides, isolates and marks (which reorder what a reviewer reads), zero-width
 * space and word joiner, the byte order mark, U+FFFE and U+FFFF (not characters), and lone
 * surrogates (the `u` flag makes `\uD800-\uDFFF` match only unpaired halves).
 */
const INVISIBLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is escaped
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff\ufffe\uffff\ud800-\udfff]/gu;

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeCodePoint(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const n = c.charCodeAt(0);
  return n < 0x100 ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u${n.toString(16).padStart(4, "0")}`;
}

/**
 * Makes text visible and inert on one line, in every medium: a backslash becomes `\\`, line
 * breaks `\n`, `\r` and `\t`, and the other code points of {@link INVISIBLE} `\xNN` or `\uNNNN`
 * (lower-case hex); `##[`, which starts a legacy GitHub Actions command anywhere in a log line,
 * becomes `#\x23[`. Everything else is kept. The mapping is injective (every backslash of the
 * result starts an escape), so two different names never look alike.
 */
export function visible(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(INVISIBLE, escapeCodePoint).replace(/##\[/g, "#\\x23[");
}

/** Cuts already visible text to `max` code points: head, `…sha256:`, 8 hex digits of `whole`. */
function cut(shown: string, whole: string, max: number): string {
  const chars = [...shown];
  if (chars.length <= max) return shown;
  return `${chars.slice(0, Math.max(1, max - 16)).join("")}…sha256:${sha256Hex(whole).slice(0, 8)}`;
}

/**
 * The public form of a piece of trace text: {@link visible}, and when that is longer than `max`
 * code points, cut to its first `max - 16` code points followed by `…sha256:` and the first 8 hex
 * digits of the SHA-256 of the raw value's UTF-8 bytes (lone surrogates encoded as U+FFFD), so the
 * result is at most `max` code points, two long values that share a prefix stay distinguishable,
 * and a reviewer can match a value they know against report.json.
 */
export function shorten(value: string, max = MAX_PUBLIC_VALUE): string {
  return cut(visible(value), value, max);
}

/**
 * Bounds text that is already visible (a message assembled from public forms) to `max` code
 * points the way {@link shorten} does, the digest being that of the text itself.
 */
export function clip(text: string, max: number): string {
  return cut(text, text, max);
}

/** A case id, tool name, event address or file name as shown: {@link shorten} to {@link MAX_PUBLIC_NAME}. */
export function publicName(name: string): string {
  return shorten(name, MAX_PUBLIC_NAME);
}

/**
 * How a matched argument value appears in a public artifact (SARIF, summary, annotations, JUnit):
 * {@link shorten}ed to {@link MAX_PUBLIC_VALUE} code points, or with `redact` replaced by
 * `sha256:` and the first 8 hex digits of the SHA-256 of its UTF-8 bytes, then `…`. The prefix
 * lets a reviewer match a value they already know without the artifact revealing it.
 * Visible text (see {@link visible}): each medium still escapes the result for its syntax.
 */
export function publicValue(value: string, redact: boolean): string {
  return redact ? `sha256:${sha256Hex(value).slice(0, 8)}…` : shorten(value);
}

/**
 * Makes visible text ({@link publicName}, {@link publicValue}, {@link shorten}) inert inside a
 * GitHub-flavoured markdown table cell or list item: markdown punctuation is backslash-escaped,
 * `|` included so a cell cannot end early, and `:` and `#` so that neither `::` nor `##[` can
 * start a workflow command; then HTML special characters become entities (no tag, comment or
 * entity can open) and `$` becomes `&#36;` (GitHub renders `$…$` as math), after the backslashes
 * so that the `#` of `&#36;` stays part of the entity. A control character still
 * present (text that was not made visible) is escaped as {@link visible} would.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(INVISIBLE, escapeCodePoint)
    .replace(/[\\`*_{}[\]()#+\-.!|~:@]/g, "\\$&")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/\$/g, "&#36;");
}

/** Inline code span for identifiers we produced (digests, verdicts); backticks cannot occur there. */
export function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

/**
 * Makes visible text ({@link publicName}) safe inside one terminal or CI log line: `::` becomes
 * `:\x3a` and, as a safety net, `##[` and any control character left are escaped as in
 * {@link visible}, so that neither a control sequence nor a workflow command (`::cmd::`,
 * `##[cmd]`) survives wherever the text lands in the line.
 */
export function terminalText(text: string): string {
  return text.replace(INVISIBLE, escapeCodePoint).replace(/##\[/g, "#\\x23[").replace(/::/g, ":\\x3a");
}

/**
 * Code points XML 1.0 cannot hold (its `Char` production): C0 controls other than TAB, LF and CR,
 * lone surrogates, U+FFFE and U+FFFF. Each becomes U+FFFD in XML output.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
const XML_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff\ud800-\udfff]/gu;

/**
 * XML character data (element content): `&`, `<` and `>` become entities (so `]]>` cannot occur),
 * CR becomes `&#xD;` (a parser would turn a raw CR into LF), XML-invalid code points U+FFFD.
 */
export function xmlText(text: string): string {
  return text
    .replace(XML_INVALID, "\ufffd")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/\r/g, "&#xD;");
}

/**
 * An XML attribute value between double quotes: as {@link xmlText}, and `"` becomes `&quot;`,
 * TAB, LF and CR character references (a parser normalises raw ones to spaces).
 */
export function xmlAttr(text: string): string {
  return xmlText(text).replace(/"/g, "&quot;").replace(/\t/g, "&#x9;").replace(/\n/g, "&#xA;");
}

/** UTF-8 length of a string, in bytes. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/**
 * Takes rows in order while they fit: at most `maxRows`, and at most `budget` UTF-8 bytes counting
 * each row plus its line break. Rows are produced lazily, so a report with a million findings
 * costs only the rows shown.
 * @returns the rows taken; the caller counts the rest as `total - taken.length`.
 */
export function takeWithin(
  total: number,
  row: (i: number) => string,
  maxRows: number,
  budget: number,
): string[] {
  const taken: string[] = [];
  let used = 0;
  for (let i = 0; i < total && taken.length < maxRows; i++) {
    const r = row(i);
    const size = utf8Bytes(r) + 1;
    if (used + size > budget) break;
    taken.push(r);
    used += size;
  }
  return taken;
}
