import { describe, expect, it } from "vitest";
import { ProofError, ProofErrors } from "../../src/errors.js";
import { unsupportedSyntaxHint } from "../../src/expr/re2.js";
import { compilePolicy } from "../../src/policy/compile.js";
import { didYouMean, MAX_SCHEMA_ERRORS } from "../../src/policy/schema-errors.js";

const FILE = "policies/bad.yaml";

/** Joins lines into a YAML text: line N of the test is line N of the file. */
function yaml(...lines: string[]): string {
  return `${lines.join("\n")}\n`;
}

/** Compiles text that must fail and returns the one error it throws. */
function failure(text: string): ProofError {
  try {
    compilePolicy(text, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    return err as ProofError;
  }
  throw new Error("the policy compiled, but it should have been rejected");
}

interface Case {
  name: string;
  text: string;
  code: string;
  message: RegExp;
  line: number;
  column: number;
}

const HEAD = ["schema: proof.policy/v1", "policy_id: bad.v1"];

const cases: Case[] = [
  {
    name: "an unclosed flow sequence",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match: { tool: [send_money, get_iban }",
      "    effect: block",
    ),
    code: "yaml.syntax",
    message: /end with a \]/,
    // The `}` where the `]` was due.
    line: 5,
    column: 42,
  },
  {
    name: "a flow sequence left open at the end of the file",
    text: yaml(...HEAD, "rules: [", "  {id: a, match: {}, effect: block}"),
    code: "yaml.syntax",
    message: /end with a \]/,
    // Where the `]` was due: the end of the file.
    line: 5,
    column: 1,
  },
  {
    name: "bad indentation",
    text: yaml(...HEAD, "rules:", "  - id: a", "    match:", "      tool: send_money", "     effect: block"),
    code: "yaml.syntax",
    message: /same column|indent/i,
    line: 7,
    column: 1,
  },
  {
    name: "a tab as indentation",
    text: yaml(...HEAD, "rules:", "\t- id: a"),
    code: "yaml.syntax",
    message: /tab/i,
    line: 4,
    column: 1,
  },
  {
    name: "a duplicate key at the top level",
    text: yaml(...HEAD, "policy_id: other.v1", "rules: []"),
    code: "yaml.syntax",
    message: /unique/,
    line: 3,
    column: 1,
  },
  {
    name: "a duplicate key inside a flow mapping",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match: { args: { amount: { gt: 1, gt: 2 } } }",
      "    effect: block",
    ),
    code: "yaml.syntax",
    message: /unique/,
    line: 5,
    column: 39,
  },
  {
    name: "keys that differ in YAML type only (1 and '1'), which would collapse into one property",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      args:",
      "        1: { eq: 1 }",
      "        '1': { eq: 2 }",
      "    effect: block",
    ),
    code: "yaml.syntax",
    message: /unique/,
    line: 8,
    column: 9,
  },
  {
    name: "a second YAML document",
    text: yaml(...HEAD, "rules: []", "---", "rules: []"),
    code: "yaml.syntax",
    message: /second YAML document/,
    line: 4,
    column: 1,
  },
  {
    name: "an unknown key at the top level",
    text: yaml(...HEAD, "rulez: []", "rules: []"),
    code: "policy.unknown_key",
    message: /unknown key 'rulez'/,
    line: 3,
    column: 1,
  },
  {
    name: "an unknown operator deep inside a rule",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      args:",
      "        amount:",
      "          greater: 1000",
      "    effect: block",
    ),
    code: "policy.unknown_key",
    message: /unknown key 'greater' in rules\[0\]\.match\.args\.amount/,
    line: 8,
    column: 11,
  },
  {
    name: "an unknown operator in a flow mapping, in the second rule",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - { id: a, match: {}, effect: warn }",
      "  - id: b",
      "    match: { args: { amount: { gt: 0, greater: 1000 } } }",
      "    effect: block",
    ),
    code: "policy.unknown_key",
    message: /unknown key 'greater' in rules\[1\]\.match\.args\.amount/,
    line: 6,
    column: 39,
  },
  {
    name: "a cost that is a word",
    text: yaml(...HEAD, "rules:", "  - id: a", "    match: {}", "    effect: block", '    cost: "two"'),
    code: "policy.wrong_type",
    message: /rules\[0\]\.cost must be integer, not string/,
    line: 7,
    column: 11,
  },
  {
    name: "a negative cost",
    text: yaml(...HEAD, "rules:", "  - id: a", "    match: {}", "    effect: block", "    cost: -1"),
    code: "policy.schema",
    message: /rules\[0\]\.cost must be >= 0/,
    line: 7,
    column: 11,
  },
  {
    name: "an effect that is a number",
    text: yaml(...HEAD, "rules:", "  - id: a", "    match: {}", "    effect: 3"),
    code: "policy.invalid_value",
    message: /rules\[0\]\.effect must be one of: allow, warn, require_approval, block/,
    line: 6,
    column: 13,
  },
  {
    name: "a tool that is a number",
    text: yaml(...HEAD, "rules:", "  - id: a", "    match:", "      tool: 5", "    effect: block"),
    code: "policy.wrong_type",
    message: /rules\[0\]\.match\.tool must be string or array, not integer/,
    line: 6,
    column: 13,
  },
  {
    name: "a number inside a tool list",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      tool: [send_money, 5]",
      "    effect: block",
    ),
    code: "policy.wrong_type",
    message: /rules\[0\]\.match\.tool\[1\] must be string, not integer/,
    line: 6,
    column: 26,
  },
  {
    name: "an empty match",
    text: yaml(...HEAD, "rules:", "  - id: a", "    match:", "    effect: block"),
    code: "policy.wrong_type",
    message: /rules\[0\]\.match must be object, not null/,
    // Where the missing value would be, right after `match:`.
    line: 5,
    column: 11,
  },
  {
    name: "an effect outside the enum",
    text: yaml(...HEAD, "rules:", "  - id: a", "    match: {}", "    effect: deny"),
    code: "policy.invalid_value",
    message: /rules\[0\]\.effect must be one of/,
    line: 6,
    column: 13,
  },
  {
    name: "a severity outside the enum",
    text: yaml(...HEAD, "rules:", "  - id: a", "    match: {}", "    effect: block", "    severity: urgent"),
    code: "policy.invalid_value",
    message: /rules\[0\]\.severity must be one of: low, medium, high, critical/,
    line: 7,
    column: 15,
  },
  {
    name: "a default verdict outside the enum",
    text: yaml(...HEAD, "defaults:", "  verdict: deny", "rules: []"),
    code: "policy.invalid_value",
    message: /defaults\.verdict must be one of/,
    line: 4,
    column: 12,
  },
  {
    name: "a source role that cannot be a source",
    text: yaml(...HEAD, "sources:", "  - role: assistant", "    integrity: trusted", "rules: []"),
    code: "policy.invalid_value",
    message: /sources\[0\]\.role must be one of: system, user/,
    line: 4,
    column: 11,
  },
  {
    name: "a wrong schema tag",
    text: yaml("schema: proof.policy/v2", "policy_id: bad.v1", "rules: []"),
    code: "policy.invalid_value",
    message: /schema must be 'proof.policy\/v1'/,
    line: 1,
    column: 9,
  },
  {
    name: "a missing effect",
    text: yaml(...HEAD, "rules:", "  - id: a", "    match: {}"),
    code: "policy.missing_key",
    message: /missing required key 'effect' in rules\[0\]/,
    line: 4,
    column: 5,
  },
  {
    name: "a rule id with capitals",
    text: yaml(...HEAD, "rules:", "  - id: NoCaps", "    match: {}", "    effect: block"),
    code: "policy.invalid_value",
    message: /rules\[0\]\.id must match/,
    line: 4,
    column: 9,
  },
  {
    name: "an argument path with an empty segment",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      args:",
      "        payee..iban: { eq: x }",
      "    effect: block",
    ),
    code: "policy.invalid_key",
    message: /invalid key 'payee\.\.iban' in rules\[0\]\.match\.args/,
    line: 7,
    column: 9,
  },
  {
    name: "a CEL syntax error in `when`",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    when: 'context.env =='",
      "    match: {}",
      "    effect: block",
    ),
    code: "policy.invalid_cel",
    message: /invalid CEL in rule 'a' \(rules\[0\]\.when\): .*\(at 1:13 of the expression\)/,
    line: 5,
    column: 11,
  },
  {
    name: "a CEL syntax error in `condition`",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      condition: 'args.amount > > 1000'",
      "    effect: block",
    ),
    code: "policy.invalid_cel",
    // The CEL parser reports the operator before the stray one.
    message: /invalid CEL in rule 'a' \(rules\[0\]\.match\.condition\): .*\(at 1:13 of the expression\)/,
    line: 6,
    column: 18,
  },
  {
    name: "an unknown variable in `condition`",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      condition: foo.bar == 1",
      "    effect: block",
    ),
    code: "policy.invalid_cel",
    message:
      /rule 'a' \(rules\[0\]\.match\.condition\): undeclared reference to 'foo' \(variables: tool, args, context\)/,
    line: 6,
    column: 18,
  },
  {
    name: "an unknown variable in `when`",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    when: foo.bar == 1",
      "    match: {}",
      "    effect: block",
    ),
    code: "policy.invalid_cel",
    message: /rule 'a' \(rules\[0\]\.when\): undeclared reference to 'foo' \(variables: context\)/,
    line: 5,
    column: 11,
  },
  {
    name: "`args` used in `when`, which only sees the context",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    when: args.amount > 1000",
      "    match: {}",
      "    effect: block",
    ),
    code: "policy.invalid_cel",
    message: /rule 'a' \(rules\[0\]\.when\): undeclared reference to 'args' \(variables: context\)/,
    line: 5,
    column: 11,
  },
  {
    name: "an unknown CEL function",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      condition: shout(args.x)",
      "    effect: block",
    ),
    code: "policy.invalid_cel",
    message: /unknown function 'shout'/,
    line: 6,
    column: 18,
  },
  {
    name: "an RE2 pattern with an unclosed group",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      args:",
      "        iban: { matches: '(a' }",
      "    effect: block",
    ),
    code: "policy.invalid_pattern",
    message: /invalid RE2 pattern '\(a': .*missing closing \)/,
    line: 7,
    column: 26,
  },
  {
    name: "a lookahead, which RE2 does not support",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      args:",
      "        iban:",
      "          matches: '(?=x)'",
      "    effect: block",
    ),
    code: "policy.invalid_pattern",
    message: /invalid RE2 pattern '\(\?=x\)'/,
    line: 8,
    column: 20,
  },
  {
    name: "a bad pattern in a sequence's content matcher",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      sequence:",
      "        require_before: { role: user, content: { matches: '[z-a]' } }",
      "    effect: block",
    ),
    code: "policy.invalid_pattern",
    message: /invalid RE2 pattern '\[z-a\]'/,
    line: 7,
    column: 59,
  },
  {
    name: "an unclosed class in the second item of a tool list",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      tool: [send_money, 'get_[ab']",
      "    effect: block",
    ),
    code: "policy.invalid_pattern",
    message: /unclosed '\[' in tool pattern 'get_\[ab'/,
    line: 6,
    column: 26,
  },
  {
    name: "`__proto__` at the top level",
    text: yaml(...HEAD, "__proto__: { polluted: true }", "rules: []"),
    code: "yaml.forbidden_key",
    message: /key '__proto__' is not allowed/,
    line: 3,
    column: 1,
  },
  {
    name: "`__proto__` among the argument matchers",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      args:",
      "        amount: { gt: 0 }",
      "        __proto__: { eq: 1 }",
      "    effect: block",
    ),
    code: "yaml.forbidden_key",
    message: /key '__proto__' is not allowed/,
    line: 8,
    column: 9,
  },
  {
    name: "a quoted `constructor` key in a flow mapping",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      '    match: { args: { "constructor": { eq: 1 } } }',
      "    effect: block",
    ),
    code: "yaml.forbidden_key",
    message: /key 'constructor' is not allowed/,
    line: 5,
    column: 22,
  },
  {
    name: "duplicate rule ids",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: same",
      "    match: {}",
      "    effect: warn",
      "  - id: other",
      "    match: {}",
      "    effect: warn",
      "  - id: same",
      "    match: {}",
      "    effect: block",
    ),
    code: "policy.duplicate_rule",
    message: /rule id 'same' is used twice \(rules\[0\] and rules\[2\]\)/,
    line: 10,
    column: 9,
  },
  {
    name: "`since` without require_before or forbid_before",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      sequence:",
      "        since: { role: assistant }",
      "        max_calls: { count: 1 }",
      "    effect: block",
    ),
    code: "policy.invalid_sequence",
    message: /'since' needs 'require_before' or 'forbid_before'/,
    line: 7,
    column: 16,
  },
  {
    name: "an empty file",
    text: "",
    code: "policy.empty",
    message: /is empty/,
    line: 1,
    column: 1,
  },
  {
    name: "a file of comments only",
    text: yaml("# a policy will go here", "# one day"),
    code: "policy.empty",
    message: /is empty/,
    line: 1,
    column: 1,
  },
  {
    name: "a top level that is a list",
    text: yaml("- schema: proof.policy/v1", "  policy_id: bad.v1", "  rules: []"),
    code: "policy.wrong_type",
    message: /\(document\) must be object, not array/,
    line: 1,
    column: 1,
  },
  {
    name: "a top level that is a scalar",
    text: yaml("", "proof.policy/v1"),
    code: "policy.wrong_type",
    message: /\(document\) must be object, not string/,
    line: 2,
    column: 1,
  },
  {
    name: "an infinite number (.inf) as an operand",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      args:",
      "        amount: { gt: .inf }",
      "    effect: block",
    ),
    code: "yaml.number_out_of_range",
    message: /'\.inf' is not a finite number/,
    line: 7,
    column: 23,
  },
  {
    name: "a negative infinity (-.inf)",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      args:",
      "        amount: { eq: -.inf }",
      "    effect: block",
    ),
    code: "yaml.number_out_of_range",
    message: /'-\.inf' is not a finite number/,
    line: 7,
    column: 23,
  },
  {
    name: "not a number (.nan)",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      args:",
      "        amount: { eq: .NaN }",
      "    effect: block",
    ),
    code: "yaml.number_out_of_range",
    message: /'\.NaN' is not a finite number/,
    line: 7,
    column: 23,
  },
  {
    name: "a number out of the double range (1e400) inside a list",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      args:",
      "        amount: { in: [1, 1e400] }",
      "    effect: block",
    ),
    code: "yaml.number_out_of_range",
    message: /'1e400' is not a finite number/,
    line: 7,
    column: 27,
  },
  {
    name: "an integer beyond 2^53 (a double would round it to ...992)",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      args:",
      "        account: { eq: 9007199254740993 }",
      "    effect: block",
    ),
    code: "yaml.integer_out_of_range",
    message: /'9007199254740993' is an integer beyond 2\^53 - 1 .* become 9007199254740992/,
    line: 7,
    column: 24,
  },
  {
    name: "a hexadecimal integer beyond 2^53 inside a list",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: a",
      "    match:",
      "      args:",
      "        account: { in: [1, 0x20000000000001] }",
      "    effect: block",
    ),
    code: "yaml.integer_out_of_range",
    message: /'0x20000000000001' is an integer beyond/,
    line: 7,
    column: 28,
  },
  {
    name: "a sequence as a mapping key (explicit ? key)",
    text: yaml(...HEAD, "? [a, b]", ": x", "rules: []"),
    code: "yaml.complex_key",
    message: /mapping key must be a plain value/,
    line: 3,
    column: 3,
  },
  {
    name: "a mapping as a mapping key (flow)",
    text: yaml(...HEAD, "rules: []", "description: {{a: 1}: x}"),
    code: "yaml.complex_key",
    message: /mapping key must be a plain value/,
    line: 4,
    column: 15,
  },
  {
    name: "an alias inside its own anchor (a cycle)",
    text: yaml(...HEAD, "rules: []", "description: &loop [a, *loop]"),
    code: "yaml.recursive_alias",
    message: /alias \*loop is inside its own anchor/,
    line: 4,
    column: 24,
  },
  {
    name: "sequences nested deeper than 512 levels",
    text: yaml(...HEAD, "rules: []", `description: ${"[".repeat(600)}${"]".repeat(600)}`),
    code: "yaml.too_deep",
    message: /nested deeper than 512 levels/,
    line: 4,
    // The 512th `[`: the top-level mapping is the first level.
    column: 14 + 511,
  },
  {
    name: "nesting that passes the limit only once aliases are expanded",
    text: yaml(
      ...HEAD,
      "rules: []",
      `x: &deep ${"[".repeat(300)}${"]".repeat(300)}`,
      `description: ${"[".repeat(300)}*deep${"]".repeat(300)}`,
    ),
    code: "yaml.too_deep",
    message: /nested deeper than 512 levels/,
    line: 5,
    column: 14 + 300,
  },
  {
    name: "a CEL chain of 2,500 terms (too deep for the planner's recursion)",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: long_sum",
      "    match:",
      `      condition: '${Array(2500).fill("1").join(" + ")} == 1'`,
      "    effect: block",
    ),
    code: "policy.invalid_cel",
    message:
      /invalid CEL in rule 'long_sum' \(rules\[0\]\.match\.condition\): expression nested deeper than 32 levels/,
    line: 6,
    column: 18,
  },
  {
    name: "CEL with 3,000 nested parentheses",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: parens",
      `    when: '${"(".repeat(3000)}true${")".repeat(3000)}'`,
      "    match: {}",
      "    effect: block",
    ),
    code: "policy.invalid_cel",
    message:
      /invalid CEL in rule 'parens' \(rules\[0\]\.when\): brackets nested deeper than 32 levels \(at 1:33 of the expression\)/,
    line: 5,
    column: 11,
  },
  {
    name: "a CEL expression longer than 65,536 characters",
    text: yaml(
      ...HEAD,
      "rules:",
      "  - id: huge",
      `    when: '${Array(5000).fill("context.flag").join(" || ")}'`,
      "    match: {}",
      "    effect: block",
    ),
    code: "policy.invalid_cel",
    message:
      /invalid CEL in rule 'huge' \(rules\[0\]\.when\): expression is 79996 characters long, more than the limit of 65536/,
    line: 5,
    column: 11,
  },
  {
    name: "a cost too large for the planner to sum",
    text: yaml(...HEAD, "rules:", "  - id: a", "    match: {}", "    effect: block", "    cost: 1.5e308"),
    code: "policy.invalid_value",
    message: /cost of rule 'a' is 1\.5e\+308, more than the limit of 1000000000/,
    line: 7,
    column: 11,
  },
];

describe("compilePolicy rejects bad input with one located error", () => {
  it.each(cases)("$name", ({ text, code, message, line, column }) => {
    const err = failure(text);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(err.category).toBe("input");
    expect(err.exitCode).toBe(6);
    expect(err.location).toEqual({ file: FILE, line, column });
  });

  it("names the file as given, and never a message spanning several lines", () => {
    for (const { text } of cases) {
      const err = failure(text);
      expect(err.location?.file).toBe(FILE);
      expect(err.message).not.toContain("\n");
    }
  });

  it("refuses an alias bomb with an input error, not a crash", () => {
    const text = yaml(
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
    );
    const err = failure(text);
    expect(err.code).toBe("yaml.too_many_aliases");
    expect(err.exitCode).toBe(6);
    // a (11 nodes), b (110 added) and c (1,110 added) stay under the 10,000 nodes aliases may
    // add; the 8th *c of d passes them.
    expect(err.location).toEqual({ file: FILE, line: 4, column: 33 });
    expect(err.message).toMatch(/alias \*c passes the limit/);
  });

  it("refuses nesting so deep that the YAML library itself runs out of stack, on its line", () => {
    const err = failure(yaml(...HEAD, "rules: []", `description: ${"[".repeat(5000)}${"]".repeat(5000)}`));
    expect(err.code).toBe("yaml.too_deep");
    expect(err.location).toMatchObject({ file: FILE, line: 4 });
  });

  it("points at the first alias when the library's own bound (an anchor used 101 times) is hit", () => {
    const text = yaml("a: &a x", `b: [${Array(101).fill("*a").join(", ")}]`);
    const err = failure(text);
    expect(err.code).toBe("yaml.too_many_aliases");
    expect(err.location).toEqual({ file: FILE, line: 2, column: 5 });
  });

  it("accepts the same keys when they are spelled differently but mean different things", () => {
    // `id` and `'id '` are two keys; only true duplicates are refused.
    const ir = compilePolicy(
      yaml(
        ...HEAD,
        "rules:",
        "  - id: a",
        "    match:",
        "      args:",
        "        x: { eq: 1 }",
        "        'x ': { eq: 2 }",
        "    effect: block",
      ),
      FILE,
    );
    expect(ir.rules[0]?.match.args.map((a) => a.path)).toEqual(["x", "x "]);
  });
});

/** `[code, line, column, hint]` of every problem of an error, as a reader sees them. */
function problems(err: ProofError): [string, number | undefined, number | undefined, string | undefined][] {
  const all = err instanceof ProofErrors ? err.errors : [err];
  return all.map((e) => [e.code, e.location?.line, e.location?.column, e.hint]);
}

describe("compilePolicy reports every problem at once, like a linter", () => {
  it("lists every schema error, each located, in file order, with did-you-mean hints", () => {
    const err = failure(
      yaml(
        ...HEAD,
        "rules:",
        "  - id: a",
        "    match:",
        "      tools: send_money",
        "      args:",
        "        amount: { greater: 1000 }",
        "    efect: block",
        "  - id: b",
        "    match: {}",
        "    effect: blok",
      ),
    );
    expect(err).toBeInstanceOf(ProofErrors);
    // In file order; the misspelt effect is an unknown key and leaves `effect` missing: both.
    expect(problems(err)).toEqual([
      ["policy.missing_key", 4, 5, undefined],
      ["policy.unknown_key", 6, 7, "did you mean 'tool'?"],
      ["policy.unknown_key", 8, 19, "did you mean 'gt'?"],
      ["policy.unknown_key", 9, 5, "did you mean 'effect'?"],
      ["policy.invalid_value", 12, 13, "did you mean 'block'?"],
    ]);
    // The error itself is the first problem, so a caller reading one error sees it.
    expect(err.location).toEqual({ file: FILE, line: 4, column: 5 });
    expect(err.code).toBe("policy.missing_key");
    expect((err as ProofErrors).omitted).toBe(0);
  });

  it("names an alternative branch's problem once, not every branch of anyOf", () => {
    const err = failure(yaml(...HEAD, "sources:", "  - role: robot", "    integrity: trusted", "rules: []"));
    expect(problems(err)).toEqual([["policy.invalid_value", 4, 11, undefined]]);
    expect(err.message).toBe("sources[0].role must be one of: system, user");
  });

  it("bounds the list and counts the rest", () => {
    const rules = Array.from(
      { length: MAX_SCHEMA_ERRORS + 7 },
      (_, i) => `  - { id: r${i}, match: {}, effect: nope }`,
    );
    const err = failure(yaml(...HEAD, "rules:", ...rules));
    expect(err).toBeInstanceOf(ProofErrors);
    expect((err as ProofErrors).errors).toHaveLength(MAX_SCHEMA_ERRORS);
    expect((err as ProofErrors).omitted).toBe(7);
  });

  it("lists every rule that does not compile (invalid RE2, invalid CEL, duplicate id)", () => {
    const err = failure(
      yaml(
        ...HEAD,
        "rules:",
        "  - id: a",
        "    match: { args: { to: { matches: '(?=x)y' } } }",
        "    effect: block",
        "  - id: b",
        "    when: 'context.env ==='",
        "    match: {}",
        "    effect: block",
        "  - id: a",
        "    match: {}",
        "    effect: warn",
      ),
    );
    expect(problems(err).map(([code, line]) => [code, line])).toEqual([
      ["policy.invalid_pattern", 5],
      ["policy.invalid_cel", 8],
      ["policy.duplicate_rule", 11],
    ]);
    expect(err.hint).toMatch(/^RE2 has no lookahead/);
  });
});

describe("did you mean", () => {
  it.each([
    ["greater", "gt", ["eq", "gt", "gte", "lt"]],
    ["less_than", "lt", ["eq", "gt", "lt", "lte"]],
    ["regex", "matches", ["eq", "matches"]],
    ["tools", "tool", ["tool", "args", "provenance"]],
    ["efect", "effect", ["id", "match", "effect"]],
    ["contians", "contains", ["contains", "in"]],
    ["failOn", "fail_on", ["fail_on", "format"]],
    ["fail-on", "fail_on", ["fail_on", "format"]],
    ["blok", "block", ["allow", "warn", "require_approval", "block"]],
  ])("%s -> %s", (word, expected, candidates) => {
    expect(didYouMean(word, candidates)).toBe(expected);
  });

  it.each([
    ["xyz", ["eq", "gt"]],
    ["severity_level", ["id", "match", "effect"]],
    // An alias is suggested only where its target is allowed.
    ["greater", ["id", "match", "effect"]],
    ["__proto__", ["id"]],
  ])("nothing close to %s", (word, candidates) => {
    expect(didYouMean(word, candidates)).toBeUndefined();
  });
});

describe("an invalid RE2 pattern names the construct RE2 lacks", () => {
  it.each([
    ["^(?=.*admin)", "lookahead"],
    ["(?!x)y", "negative lookahead"],
    ["(?<=\\$)\\d+", "lookbehind"],
    ["(?<!-)\\d", "negative lookbehind"],
    ["(a)\\1", "backreference"],
    ["(?<n>a)\\k<n>", "named backreference"],
    ["a*+b", "possessive quantifier"],
    ["a{2}+", "possessive quantifier"],
    ["(?>ab|a)c", "atomic group"],
  ])("%s: %s", (source, construct) => {
    const err = failure(
      yaml(
        ...HEAD,
        "rules:",
        "  - id: a",
        "    match:",
        "      args:",
        `        to: { matches: '${source}' }`,
        "    effect: block",
      ),
    );
    expect(err.code).toBe("policy.invalid_pattern");
    expect(err.hint).toMatch(new RegExp(`^RE2 has no ${construct} `));
  });

  it("does not take an escaped or bracketed sign for the construct", () => {
    expect(unsupportedSyntaxHint("\\(?=")).toBeUndefined();
    expect(unsupportedSyntaxHint("[(?=]")).toBeUndefined();
    expect(unsupportedSyntaxHint("[]\\1]")).toBeUndefined();
    expect(unsupportedSyntaxHint("\\\\1")).toBeUndefined();
    expect(unsupportedSyntaxHint("a[b](?=c)")).toMatch(/lookahead/);
  });

  it("gives no hint for a pattern that is merely malformed", () => {
    const err = failure(
      yaml(
        ...HEAD,
        "rules:",
        "  - id: a",
        "    match: { args: { to: { matches: '(unclosed' } } }",
        "    effect: block",
      ),
    );
    expect(err.code).toBe("policy.invalid_pattern");
    expect(err.hint).toBeUndefined();
  });
});

describe("integers a JSON number holds exactly still compile", () => {
  it("keeps 2^53 - 1, and a double spelled as one (1e20, 0.1), as written", () => {
    const ir = compilePolicy(
      yaml(
        ...HEAD,
        "rules:",
        "  - id: a",
        "    match:",
        "      args:",
        "        account: { in: [9007199254740991, -9007199254740991, 1e20, 0.1] }",
        "    effect: block",
      ),
      FILE,
    );
    expect(JSON.stringify(ir)).toContain("[-9007199254740991,0.1,100000000000000000000,9007199254740991]");
  });
});
