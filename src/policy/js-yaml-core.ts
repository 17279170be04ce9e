/**
 * js-yaml set up to read YAML as the `yaml` library does (YAML 1.2, core schema), and the text it
 * must leave to the `yaml` library. js-yaml is several times faster, above all the first time it
 * runs in a process; the `yaml` library keeps node positions for located errors and enforces
 * every rule of YAML's syntax. Used for tool results (src/verify/content.ts) and, behind a
 * stricter check, for policies and other files proof reads (src/policy/yaml.ts).
 */
import { CORE_SCHEMA, Type } from "js-yaml";

/**
 * Integers of the YAML 1.2 core schema (YAML 1.2.2 §10.3.2), resolved as the `yaml` library does
 * (its schema/core/int.js): js-yaml's own int type also reads `0b101`, `+0x10` and `-0o7`, which
 * the core schema leaves as strings.
 */
const coreInt = new Type("tag:yaml.org,2002:int", {
  kind: "scalar",
  resolve: (s: string) => /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/.test(s),
  construct: (s: string) =>
    s.startsWith("0o")
      ? parseInt(s.slice(2), 8)
      : s.startsWith("0x")
        ? parseInt(s.slice(2), 16)
        : parseInt(s, 10),
});

/**
 * Floats of the YAML 1.2 core schema, resolved as the `yaml` library does (schema/core/float.js):
 * js-yaml's own float type does not read `+.5`.
 */
const coreFloat = new Type("tag:yaml.org,2002:float", {
  kind: "scalar",
  resolve: (s: string) =>
    /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$/.test(
      s,
    ),
  construct: (s: string) => {
    const t = s.slice(-3).toLowerCase();
    if (t === "nan" && s.includes(".")) return Number.NaN;
    if (t === "inf") return s[0] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    return parseFloat(s);
  },
});

/**
 * The YAML 1.2 core schema for js-yaml: its null and bool types already match the spec's; a type
 * given to `extend` replaces the one of the same tag in place, so the resolution order is kept.
 */
export const CORE = CORE_SCHEMA.extend({ implicit: [coreInt, coreFloat] });

/** The parts of {@link YAML_LIBRARY_ONLY} that are about tags. */
const TAG_PARTS = [
  // A null tag: the `yaml` library names a key so tagged "", js-yaml "null".
  "!!null",
  // A tag ending its line: js-yaml tags an empty node, the `yaml` library the next line's.
  String.raw`(?:^|[\s[{,])![^\s,[\]{}]*[ \r]*$`,
];

/**
 * The part of {@link YAML_LIBRARY_ONLY} about anchors: an anchor starting a node. An alias needs
 * one, and js-yaml neither limits alias expansion nor copies the shared value: a billion-laughs
 * text would be walked exponentially.
 */
const ANCHOR_PART = String.raw`(?:^|[\s[{,:])&[^\s,[\]{}]`;

/** The parts of {@link YAML_LIBRARY_ONLY} about neither tags nor anchors. */
const OTHER_PARTS = [
  // An explicit key, a flow collection as a key, a null key (`~:`, `null:`, `{~}`): the `yaml`
  // library names such keys "" or in flow style, js-yaml "null" or `a,b`.
  String.raw`^[ \t]*(?:-[ \t]+)*\?(?:\s|$)`,
  String.raw`[[{,][ \t]*\?(?:\s|$)`,
  String.raw`[\]}][ \t]*:(?:[\s,[\]{}]|$)`,
  String.raw`(?:^|[\s[{,?])(?:~|null|Null|NULL)?[ \t]*:(?:[\s,[\]{}]|$)`,
  String.raw`[{,][ \t\n]*(?:~|null|Null|NULL)[ \t\n]*[,}]`,
  // A directive: `%YAML 1.1` switches the `yaml` library to the 1.1 schema (`yes` is true).
  "^%",
  // A tab, which js-yaml takes as separation where the `yaml` library rejects it as
  // indentation; a byte order mark inside the text; a carriage return not starting a `\r\n`,
  // which js-yaml takes as a line break and the `yaml` library as part of a comment or scalar.
  String.raw`\t|\uFEFF|\r(?!\n)`,
  // An empty sequence entry (maybe with a comment): js-yaml reads `- - \n- ` as one list of two.
  String.raw`(?:^|[ ])-(?:[ ]+#.*)?[ \r]*$`,
];

/**
 * Text that js-yaml could read differently from the `yaml` library, or unsafely: such text is read
 * by the `yaml` library alone. Each pattern is conservative (prose that merely looks like the
 * construct takes the slower path, never a wrong one); the differential test
 * (test/verify/content-yaml.test.ts) found the constructs that are not anchors.
 */
export const YAML_LIBRARY_ONLY = new RegExp([ANCHOR_PART, ...OTHER_PARTS, ...TAG_PARTS].join("|"), "m");

/**
 * {@link YAML_LIBRARY_ONLY} without its rules about node properties (tags and anchors, YAML 1.2.2
 * §6.9), for a reader that sees each node's source and refuses every node with a property, and
 * every alias, itself (src/policy/yaml.ts): a CEL negation ending a quoted line
 * (`'... || !args.x'`) no longer looks like a tag to it, nor a conjunction (`'a && b'`) like an
 * anchor.
 */
export const YAML_LIBRARY_ONLY_TEXT = new RegExp(OTHER_PARTS.join("|"), "m");
