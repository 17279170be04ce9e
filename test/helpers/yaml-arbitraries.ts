/**
 * Generators shared by the differential tests of the two YAML readers (js-yaml and the `yaml`
 * library): test/verify/content-yaml.test.ts for tool results, test/policy/yaml-fast.test.ts for
 * policies. Values and keys lean on the spellings where YAML readers differ (numbers of YAML 1.1
 * and 1.2, null and boolean variants, indicators, odd whitespace).
 */
import fc from "fast-check";

/** Mapping keys: any short string, or one that reads as something else than a string. */
export const yamlKey = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom(
    "null",
    "~",
    "true",
    "1",
    "0x1F",
    "1_000",
    "+.5",
    "?",
    "- a",
    "a: b",
    "&a",
    "*a",
    "!!str",
    "#",
  ),
);

/** Scalar values: strings (some of them YAML syntax), numbers, booleans and null. */
export const yamlScalar = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.constantFrom(
    "0b101",
    "+0x10",
    "-0o7",
    "0o17",
    "012",
    "+12",
    "1_000",
    ".inf",
    "-.Inf",
    ".NaN",
    "+.5",
    "5.",
    "1e3",
    "1e400",
    "9007199254740993",
    "2001-12-14",
    "yes",
    "No",
    "~",
    "NULL",
    "True",
    "a: b",
    "- x",
    "&x y",
    "*x",
    "!!binary",
    "%YAML",
    "--- x",
    "...",
    "#c",
    "x #c",
    "it's",
    "line\nbreak",
    "\t",
    " lead",
    "trail ",
    "\u0085",
    "\u2028",
    "\uFEFF",
    "'",
    '"',
    "\\",
  ),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);

const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof({ depthSize: "small" }, yamlScalar, tie("list"), tie("map")),
  list: fc.array(tie("tree"), { maxLength: 4 }),
  map: fc.dictionary(yamlKey, tie("tree"), { maxKeys: 4 }),
}));

/** A value to serialize as a document: a sequence or a mapping of at least one entry. */
export const yamlCollection = fc.oneof(
  fc.array(tree, { minLength: 1, maxLength: 4 }),
  fc.dictionary(yamlKey, tree, { minKeys: 1, maxKeys: 4 }),
);

/** A value to serialize as a document: any, an empty collection or a scalar included. */
export const yamlValue = fc.oneof(
  fc.array(tree, { maxLength: 4 }),
  fc.dictionary(yamlKey, tree, { maxKeys: 4 }),
  yamlScalar,
);

/** Pieces of YAML syntax that a token soup is joined from. */
export const SOUP_TOKENS: readonly string[] = [
  "a",
  "b",
  "key",
  "0x1F",
  "+.5",
  "0b1",
  "1_0",
  ".inf",
  "null",
  "~",
  "true",
  "1",
  "-0",
  "1e400",
  " ",
  "  ",
  "\t",
  "\n",
  "\r\n",
  "\r",
  "\n  ",
  "\n- ",
  "- ",
  ":",
  ": ",
  "?",
  "? ",
  "[",
  "]",
  "{",
  "}",
  ",",
  ", ",
  "&a ",
  "*a",
  "!!str ",
  "!!null ",
  "!x ",
  "'",
  '"',
  "''",
  "#",
  " #c",
  "|",
  ">",
  "|-\n  ",
  ">+1\n",
  "---\n",
  "...\n",
  "%YAML 1.1\n",
  "\\",
  "\\x41",
  "\\u00e9",
  "\uFEFF",
  "__proto__",
];

/** A token soup: up to 24 of {@link SOUP_TOKENS} joined. */
export const yamlSoup = fc
  .array(fc.constantFrom(...SOUP_TOKENS), { minLength: 1, maxLength: 24 })
  .map((tokens) => tokens.join(""));
