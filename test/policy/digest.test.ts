import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Document, isPair, isScalar, parse, type ToStringOptions, visit } from "yaml";
import { compilePolicy } from "../../src/policy/compile.js";
import { loadIR } from "../../src/policy/load-ir.js";

function digest(text: string): string {
  return compilePolicy(text, "policy.yaml").policy_digest;
}

const BASE = `schema: proof.policy/v1
policy_id: payments.v1
description: Money may only move to recipients the user named.
defaults:
  verdict: allow
  fail_closed: true
sources:
  - tool: [get_iban, get_balance]
    integrity: trusted
  - role: system
    integrity: trusted
rules:
  - id: no_untrusted_payee
    description: Recipient of a payment must not come from untrusted content.
    when: 'context.environment in ["prod", "staging"]'
    match:
      tool: [send_money, schedule_transaction, update_scheduled_transaction]
      args:
        amount: { gt: 0 }
        currency: { in: [EUR, USD, CHF] }
      provenance:
        args: [recipient, payee.iban]
        from: untrusted
      condition: 'args.amount > 1000.0'
    effect: block
    cost: 2
    severity: high
    reason: payee_from_untrusted_content
  - id: confirm_before_booking_write
    match:
      tool: [book_reservation, update_reservation_*, cancel_reservation]
      sequence:
        require_before: { role: user, content: { matches: '(?i)\\byes\\b' } }
        since: { role: assistant, content: { matches: '\\S' } }
    effect: require_approval
  - id: password_change
    match:
      tool: [update_password]
    effect: warn
`;

/** BASE with one exact piece of text replaced; the piece must occur exactly once. */
function swap(from: string, to: string, text = BASE): string {
  expect(text.split(from).length, `'${from}' must occur exactly once`).toBe(2);
  return text.replace(from, to);
}

describe("policy_digest is invariant under reformatting (docs/policy.md)", () => {
  const base = digest(BASE);

  const equivalent: [string, string][] = [
    [
      "keys in another order at every level",
      `rules:
  - match:
      tool: [update_password]
    effect: warn
    id: password_change
  - effect: require_approval
    match:
      sequence:
        since: { content: { matches: '\\S' }, role: assistant }
        require_before: { content: { matches: '(?i)\\byes\\b' }, role: user }
      tool: [book_reservation, update_reservation_*, cancel_reservation]
    id: confirm_before_booking_write
  - reason: payee_from_untrusted_content
    severity: high
    cost: 2
    effect: block
    match:
      condition: 'args.amount > 1000.0'
      provenance:
        from: untrusted
        args: [recipient, payee.iban]
      args:
        currency: { in: [EUR, USD, CHF] }
        amount: { gt: 0 }
      tool: [send_money, schedule_transaction, update_scheduled_transaction]
    when: 'context.environment in ["prod", "staging"]'
    description: Recipient of a payment must not come from untrusted content.
    id: no_untrusted_payee
sources:
  - integrity: trusted
    tool: [get_iban, get_balance]
  - integrity: trusted
    role: system
defaults:
  fail_closed: true
  verdict: allow
description: Money may only move to recipients the user named.
policy_id: payments.v1
schema: proof.policy/v1
`,
    ],
    ["flow (JSON) style throughout", JSON.stringify(parse(BASE))],
    [
      "block style throughout, lists included",
      `schema: proof.policy/v1
policy_id: payments.v1
description: Money may only move to recipients the user named.
defaults:
  verdict: allow
  fail_closed: true
sources:
- tool:
  - get_iban
  - get_balance
  integrity: trusted
- role: system
  integrity: trusted
rules:
- id: no_untrusted_payee
  description: Recipient of a payment must not come from untrusted content.
  when: context.environment in ["prod", "staging"]
  match:
    tool:
    - send_money
    - schedule_transaction
    - update_scheduled_transaction
    args:
      amount:
        gt: 0
      currency:
        in:
        - EUR
        - USD
        - CHF
    provenance:
      args:
      - recipient
      - payee.iban
      from: untrusted
    condition: args.amount > 1000.0
  effect: block
  cost: 2
  severity: high
  reason: payee_from_untrusted_content
- id: confirm_before_booking_write
  match:
    tool:
    - book_reservation
    - update_reservation_*
    - cancel_reservation
    sequence:
      require_before:
        role: user
        content:
          matches: (?i)\\byes\\b
      since:
        role: assistant
        content:
          matches: \\S
  effect: require_approval
- id: password_change
  match:
    tool: update_password
  effect: warn
`,
    ],
    [
      "every string quoted, single and double",
      `"schema": "proof.policy/v1"
'policy_id': 'payments.v1'
"description": "Money may only move to recipients the user named."
defaults:
  "verdict": "allow"
  fail_closed: true
sources:
  - "tool": ["get_iban", 'get_balance']
    integrity: "trusted"
  - role: 'system'
    integrity: 'trusted'
rules:
  - "id": "no_untrusted_payee"
    "when": "context.environment in [\\"prod\\", \\"staging\\"]"
    match:
      tool: ['send_money', "schedule_transaction", "update_scheduled_transaction"]
      args:
        'amount': { "gt": 0 }
        "currency": { 'in': ["EUR", 'USD', "CHF"] }
      provenance:
        args: ["recipient", 'payee.iban']
        from: "untrusted"
      condition: "args.amount > 1000.0"
    effect: "block"
    cost: 2
    severity: 'high'
    reason: "payee_from_untrusted_content"
  - id: 'confirm_before_booking_write'
    match:
      tool: ["book_reservation", "update_reservation_*", 'cancel_reservation']
      sequence:
        require_before: { role: "user", content: { matches: "(?i)\\\\byes\\\\b" } }
        since: { role: "assistant", content: { "matches": "\\\\S" } }
    effect: "require_approval"
  - id: "password_change"
    match: { "tool": ["update_password"] }
    effect: 'warn'
`,
    ],
    [
      "comments everywhere",
      BASE.replace(/\n/g, "  # trailing\n")
        .replace("rules:", "# rules come next\nrules:")
        .replace("  - id: password_change", "  # a comment before a rule\n  - id: password_change"),
    ],
    [
      "rules in another order",
      (() => {
        const [head, ...rules] = BASE.split(/\n(?= {2}- id: )/);
        return `${[head, ...rules.reverse()].join("\n")}\n`.replace(/\n\n$/, "\n");
      })(),
    ],
    [
      "tool lists reordered, with duplicates, and a singleton as a scalar",
      swap(
        "tool: [send_money, schedule_transaction, update_scheduled_transaction]",
        "tool: [update_scheduled_transaction, send_money, schedule_transaction, send_money]",
        swap("tool: [update_password]", "tool: update_password"),
      ),
    ],
    ["`in` operands reordered, with duplicates", swap("in: [EUR, USD, CHF]", "in: [USD, CHF, EUR, USD]")],
    [
      "provenance args reordered, with duplicates",
      swap("args: [recipient, payee.iban]", "args: [payee.iban, recipient, payee.iban]"),
    ],
    [
      "sources reordered, duplicated, their lists reordered, a role as a list",
      swap(
        `  - tool: [get_iban, get_balance]
    integrity: trusted
  - role: system
    integrity: trusted`,
        `  - role: [system, system]
    integrity: trusted
  - tool: [get_balance, get_iban]
    integrity: trusted
  - tool: [get_iban, get_balance, get_iban]
    integrity: trusted`,
      ),
    ],
    [
      "whitespace and redundant parentheses inside CEL",
      swap(
        "condition: 'args.amount > 1000.0'",
        "condition: '(args.amount>1000.0)'",
        swap(
          `when: 'context.environment in ["prod", "staging"]'`,
          `when: "context.environment   in\\n  ['prod','staging']"`,
        ),
      ),
    ],
    [
      "a CEL condition as a folded block scalar",
      swap("condition: 'args.amount > 1000.0'", "condition: >-\n        args.amount\n        > 1000.0"),
    ],
    [
      "descriptions edited, removed and added",
      swap(
        "description: Money may only move to recipients the user named.",
        "description: Something else entirely.",
        swap(
          "    description: Recipient of a payment must not come from untrusted content.\n",
          "",
          swap("  - id: password_change\n", "  - id: password_change\n    description: new\n"),
        ),
      ),
    ],
    [
      "defaults left implicit, rule defaults made explicit",
      swap(
        "defaults:\n  verdict: allow\n  fail_closed: true\n",
        "",
        swap(
          "    effect: warn\n",
          "    effect: warn\n    cost: 1\n    severity: medium\n    reason: password_change\n",
        ),
      ),
    ],
    [
      "anchors and aliases",
      swap(
        "    effect: block\n",
        "    effect: &strict block\n",
        swap("tool: [update_password]", "tool: &pw [update_password]").replace(
          "  - role: system\n",
          "  - role: &sys system\n",
        ),
      ).replace(
        "  - role: &sys system\n    integrity: trusted\n",
        "  - role: &sys system\n    integrity: trusted\n  - { role: *sys, integrity: trusted }\n",
      ),
    ],
    ["CRLF line endings", BASE.replace(/\n/g, "\r\n")],
    ["a leading document marker and a final comment", `---\n${BASE}# end\n`],
  ];

  it.each(equivalent)("%s", (_name, text) => {
    expect(text).not.toBe(BASE);
    expect(digest(text)).toBe(base);
  });
});

describe("policy_digest changes with every semantic change", () => {
  const mutations: [string, string][] = [
    ["an effect", swap("effect: warn", "effect: block")],
    ["a tool added", swap("tool: [update_password]", "tool: [update_password, reset_password]")],
    ["a tool removed", swap("tool: [update_password]", "tool: [update_password_*]")],
    ["a tool renamed", swap("cancel_reservation]", "cancel_booking]")],
    ["an operand", swap("amount: { gt: 0 }", "amount: { gt: 1 }")],
    ["an operator", swap("amount: { gt: 0 }", "amount: { gte: 0 }")],
    ["an `in` operand added", swap("in: [EUR, USD, CHF]", "in: [EUR, USD, CHF, GBP]")],
    ["`in` turned into `not_in`", swap("in: [EUR, USD, CHF]", "not_in: [EUR, USD, CHF]")],
    ["an argument path", swap("currency: { in", "currency_code: { in")],
    ["a CEL constant", swap("args.amount > 1000.0", "args.amount > 1001.0")],
    ["a CEL operator", swap("args.amount > 1000.0", "args.amount >= 1000.0")],
    ["a CEL int for a double", swap("args.amount > 1000.0", "args.amount > 1000")],
    ["a `when` edited", swap(`["prod", "staging"]`, `["prod"]`)],
    ["a `when` removed", swap(`    when: 'context.environment in ["prod", "staging"]'\n`, "")],
    [
      "a `when` added",
      swap("  - id: password_change\n", "  - id: password_change\n    when: context.admin\n"),
    ],
    [
      "a condition added",
      swap(
        "      tool: [update_password]\n",
        "      tool: [update_password]\n      condition: has(args.old)\n",
      ),
    ],
    ["a pattern", swap("matches: '\\S'", "matches: '\\s'")],
    ["a pattern's case-insensitivity", swap("(?i)\\byes\\b", "\\byes\\b")],
    ["a default verdict", swap("verdict: allow", "verdict: warn")],
    ["fail_closed", swap("fail_closed: true", "fail_closed: false")],
    [
      "a source integrity",
      swap("    integrity: trusted\n  - role: system", "    integrity: unknown\n  - role: system"),
    ],
    ["a source tool", swap("tool: [get_iban, get_balance]", "tool: [get_iban]")],
    ["a source role", swap("role: system", "role: user")],
    ["a cost", swap("cost: 2", "cost: 3")],
    [
      "a default cost made explicit but different",
      swap("    effect: warn\n", "    effect: warn\n    cost: 0\n"),
    ],
    ["a severity", swap("severity: high", "severity: critical")],
    ["a reason", swap("reason: payee_from_untrusted_content", "reason: payee_untrusted")],
    ["a provenance level", swap("from: untrusted", "from: unknown")],
    ["a provenance arg", swap("args: [recipient, payee.iban]", "args: [recipient, payee.bic]")],
    ["`since` removed", swap("        since: { role: assistant, content: { matches: '\\S' } }\n", "")],
    ["require_before turned into forbid_before", swap("require_before:", "forbid_before:")],
    ["an event role", swap("require_before: { role: user", "require_before: { role: system")],
    [
      "a call limit added",
      swap(
        "      tool: [update_password]\n",
        "      tool: [update_password]\n      sequence: { max_calls: { count: 2 } }\n",
      ),
    ],
    ["a rule id", swap("id: password_change", "id: password_changes")],
    ["the policy id", swap("policy_id: payments.v1", "policy_id: payments.v2")],
    ["a rule removed", BASE.slice(0, BASE.indexOf("  - id: password_change"))],
  ];

  it("gives each mutation a digest of its own", () => {
    const digests = new Map<string, string>([[digest(BASE), "(base)"]]);
    for (const [name, text] of mutations) {
      const d = digest(text);
      expect(digests.get(d), `${name} has the digest of ${digests.get(d)}`).toBeUndefined();
      digests.set(d, name);
    }
    expect(digests.size).toBe(mutations.length + 1);
  });

  it("keeps ordered operands ordered: `eq: [1, 2]` is not `eq: [2, 1]`", () => {
    const one = digest(swap("amount: { gt: 0 }", "amount: { eq: [1, 2] }"));
    const two = digest(swap("amount: { gt: 0 }", "amount: { eq: [2, 1] }"));
    expect(one).not.toBe(two);
  });

  it("keeps the order inside an `in` operand's own elements", () => {
    const one = digest(swap("in: [EUR, USD, CHF]", "in: [[EUR, USD], CHF]"));
    const two = digest(swap("in: [EUR, USD, CHF]", "in: [[USD, EUR], CHF]"));
    expect(one).not.toBe(two);
  });

  it("tells a string operand from a number", () => {
    expect(digest(swap("amount: { gt: 0 }", "amount: { eq: 1 }"))).not.toBe(
      digest(swap("amount: { gt: 0 }", "amount: { eq: '1' }")),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Property tests: random policies, rendered two ways.

type Verdict = "allow" | "warn" | "require_approval" | "block";
const VERDICTS: readonly Verdict[] = ["allow", "warn", "require_approval", "block"];
const SEVERITIES = ["low", "medium", "high", "critical"] as const;
const INTEGRITIES = ["trusted", "unknown", "untrusted"] as const;

/** A small CEL AST, printed two ways that must compile to the same canonical form. */
type Lit =
  | { t: "int"; v: number }
  | { t: "double"; v: number }
  | { t: "str"; v: string }
  | { t: "bool"; v: boolean };
type Cel =
  | { k: "cmp"; path: string; op: "==" | "!=" | "<" | "<=" | ">" | ">="; lit: Lit }
  | { k: "in"; path: string; list: Lit[] }
  | { k: "has"; path: string }
  | { k: "not"; e: Cel }
  | { k: "and" | "or"; l: Cel; r: Cel };

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type Matcher = Record<string, Json>;
interface EventPattern {
  role?: string;
  tool?: string[];
  content?: Matcher;
  args?: Record<string, Matcher>;
}
interface Rule {
  id: string;
  description?: string;
  when?: Cel;
  match: {
    tool?: string[];
    args?: Record<string, Matcher>;
    provenance?: { args: string[]; from: "unknown" | "untrusted" };
    sequence?: {
      require_before?: EventPattern;
      forbid_before?: EventPattern;
      since?: EventPattern;
      max_calls?: { count: number; per?: string };
    };
    condition?: Cel;
  };
  effect: Verdict;
  cost?: number;
  severity?: (typeof SEVERITIES)[number];
  reason?: string;
}
interface Source {
  tool?: string[];
  role?: ("system" | "user")[];
  integrity: (typeof INTEGRITIES)[number];
}
interface Policy {
  policy_id: string;
  description?: string;
  defaults?: { verdict?: Verdict; fail_closed?: boolean };
  sources?: Source[];
  rules: Rule[];
}

const CEL_RESERVED = new Set([
  "as",
  "break",
  "const",
  "continue",
  "else",
  "false",
  "for",
  "function",
  "if",
  "import",
  "in",
  "let",
  "loop",
  "namespace",
  "null",
  "package",
  "return",
  "true",
  "var",
  "void",
  "while",
  "has",
  "mutated",
]);
const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);

const ident = fc
  .stringMatching(/^[a-z][a-z0-9_]{0,5}$/)
  .filter((s) => !CEL_RESERVED.has(s) && !FORBIDDEN.has(s));
const argPath = fc.oneof(
  ident,
  fc.tuple(ident, ident).map(([a, b]) => `${a}.${b}`),
);
const toolName = fc.oneof(
  fc.constantFrom("send_money", "get_iban", "read_file", "update_*", "get_?", "read_[ab]*", "book"),
  ident.filter((s) => !s.startsWith("mutated")),
);
const text = fc.oneof(
  fc.constantFrom(
    "yes",
    "no",
    "true",
    "null",
    "~",
    "1",
    "0x10",
    "1e3",
    ": x",
    "#c",
    "- d",
    "' q",
    '" dq',
    "é",
  ),
  fc.constantFrom(
    "",
    " lead",
    "trail ",
    "a\nb",
    "two\nlines\n",
    "tab\there",
    "{ x }",
    "[y]",
    "*z",
    "&w",
    "!t",
  ),
  fc.string({ maxLength: 8 }),
);
const number = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
);
const scalar: fc.Arbitrary<Json> = fc.oneof(text, number, fc.boolean(), fc.constant(null));
const operand: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: scalar },
  fc.array(scalar, { maxLength: 3 }),
  fc.dictionary(ident, scalar, { maxKeys: 2 }),
);
const PATTERNS = ["^a", "(?i)\\byes\\b", "\\d+", "[a-z]{2,}", "\\S", "^https?://", "x|y", "é+"];
const matcher: fc.Arbitrary<Matcher> = fc
  .record(
    {
      eq: operand,
      ne: operand,
      gt: number,
      gte: number,
      lt: number,
      lte: number,
      in: fc.array(scalar, { maxLength: 4 }),
      not_in: fc.array(scalar, { maxLength: 4 }),
      matches: fc.constantFrom(...PATTERNS),
      contains: fc.oneof(text, number),
      starts_with: text,
      exists: fc.boolean(),
    },
    { requiredKeys: [] },
  )
  .filter((m) => Object.keys(m).length > 0) as fc.Arbitrary<Matcher>;
const argMatchers = fc.dictionary(argPath, matcher, { minKeys: 1, maxKeys: 2 });
const toolList = fc.array(toolName, { minLength: 1, maxLength: 4 });

const lit = (strings: boolean): fc.Arbitrary<Lit> =>
  fc.oneof(
    fc.integer({ min: -50, max: 5000 }).map((v) => ({ t: "int" as const, v })),
    fc.integer({ min: -50, max: 5000 }).map((v) => ({ t: "double" as const, v: v / 4 })),
    fc.boolean().map((v) => ({ t: "bool" as const, v })),
    ...(strings ? [fc.stringMatching(/^[a-z0-9_ ]{0,6}$/).map((v) => ({ t: "str" as const, v }))] : []),
  );
const cel = (roots: readonly string[]): fc.Arbitrary<Cel> => {
  const path = fc
    .tuple(fc.constantFrom(...roots), ident)
    .map(([r, i]) => (r === "tool" ? "tool" : `${r}.${i}`));
  const { node } = fc.letrec<{ node: Cel }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.record({
        k: fc.constant("cmp" as const),
        path,
        op: fc.constantFrom("==", "!=", "<", "<=", ">", ">=") as fc.Arbitrary<"==">,
        lit: lit(true),
      }),
      fc.record({ k: fc.constant("in" as const), path, list: fc.array(lit(true), { maxLength: 3 }) }),
      fc.record({ k: fc.constant("has" as const), path: path.filter((p) => p !== "tool") }),
      fc.record({ k: fc.constant("not" as const), e: tie("node") }),
      fc.record({ k: fc.constantFrom("and" as const, "or" as const), l: tie("node"), r: tie("node") }),
    ),
  }));
  return node;
};

const eventPattern: fc.Arbitrary<EventPattern> = fc
  .record(
    {
      role: fc.constantFrom("system", "user", "assistant", "tool"),
      tool: toolList,
      content: matcher,
      args: argMatchers,
    },
    { requiredKeys: [] },
  )
  .filter((p) => Object.keys(p).length > 0);
const sequence = fc
  .record(
    {
      require_before: eventPattern,
      forbid_before: eventPattern,
      since: eventPattern,
      max_calls: fc.record(
        { count: fc.nat(5), per: fc.constantFrom("message", "turn", "trace") },
        { requiredKeys: ["count"] },
      ),
    },
    { requiredKeys: [] },
  )
  .map((s) => {
    const out = { ...s };
    if (!out.require_before && !out.forbid_before) delete out.since;
    if (Object.keys(out).length === 0) out.max_calls = { count: 1 };
    return out;
  });

const ruleBody = fc.record(
  {
    description: text,
    when: cel(["context"]),
    match: fc.record(
      {
        tool: toolList,
        args: argMatchers,
        provenance: fc.record({
          args: fc.array(argPath, { minLength: 1, maxLength: 3 }),
          from: fc.constantFrom("unknown" as const, "untrusted" as const),
        }),
        sequence,
        condition: cel(["args", "context", "tool"]),
      },
      { requiredKeys: [] },
    ),
    effect: fc.constantFrom(...VERDICTS),
    cost: fc.nat(10),
    severity: fc.constantFrom(...SEVERITIES),
    reason: fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/),
  },
  { requiredKeys: ["match", "effect"] },
);
const ruleId = fc.stringMatching(/^[a-z][a-z0-9]{0,5}(\.[a-z0-9]{1,4})?$/);
const source: fc.Arbitrary<Source> = fc
  .record(
    {
      tool: toolList,
      role: fc.array(fc.constantFrom("system" as const, "user" as const), { minLength: 1, maxLength: 2 }),
      integrity: fc.constantFrom(...INTEGRITIES),
    },
    { requiredKeys: ["integrity"] },
  )
  .filter((s) => s.tool !== undefined || s.role !== undefined);
const policyArb: fc.Arbitrary<Policy> = fc.record(
  {
    policy_id: fc.stringMatching(/^[a-z0-9_.-]{1,12}$/),
    description: text,
    defaults: fc.record(
      { verdict: fc.constantFrom(...VERDICTS), fail_closed: fc.boolean() },
      { requiredKeys: [] },
    ),
    sources: fc.array(source, { maxLength: 3 }),
    rules: fc
      .uniqueArray(ruleId, { minLength: 1, maxLength: 4 })
      .chain((ids) => fc.tuple(...ids.map((id) => ruleBody.map((body) => ({ id, ...body }) as Rule)))),
  },
  { requiredKeys: ["policy_id", "rules"] },
);

/** A seeded generator (mulberry32), so that one fast-check integer decides every rendering choice. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How one rendering chooses: `null` for the plain rendering, a generator for a scrambled one. */
type Rng = (() => number) | null;

const chance = (rng: Rng, p: number): boolean => rng !== null && rng() < p;
function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T;
}
function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const out = [...items];
  if (!rng) return out;
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** An object with its keys in a random order; `undefined` values left out. */
function object(rng: Rng, entries: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of shuffled(rng, Object.keys(entries)))
    if (entries[key] !== undefined) out[key] = entries[key];
  return out;
}

/** A set-like list: reordered, maybe with a duplicate, maybe a lone item as a scalar. */
function set<T>(rng: Rng, items: readonly T[], scalarOk: boolean): T | T[] {
  const out = shuffled(rng, items);
  if (rng && out.length > 0 && chance(rng, 0.3))
    out.splice(Math.floor(rng() * out.length), 0, pick(rng, out));
  if (scalarOk && out.length === 1 && chance(rng, 0.5)) return out[0] as T;
  return out;
}

/** A CEL literal: the plain printer is conventional, the scrambled one uses other spellings. */
function printLit(l: Lit, rng: Rng): string {
  switch (l.t) {
    case "int":
      return rng && l.v >= 0 && chance(rng, 0.5) ? `0x${l.v.toString(16)}` : String(l.v);
    case "double": {
      const plain = Number.isInteger(l.v) ? `${l.v}.0` : String(l.v);
      return chance(rng, 0.5) ? `${l.v * 100}e-2`.replace(/^(-?\d+)e/, "$1.0e") : plain;
    }
    case "str":
      return chance(rng, 0.5) ? `'${l.v}'` : `"${l.v}"`;
    case "bool":
      return String(l.v);
  }
}

/** Prints CEL fully parenthesised; the scrambled printer adds whitespace, newlines and parentheses. */
function printCel(c: Cel, rng: Rng): string {
  const ws = () => (rng ? pick(rng, ["", " ", "  ", "\n", "\t ", " \n  "]) : " ");
  const tight = () => (rng ? pick(rng, ["", " ", "\n"]) : "");
  const wrap = (s: string) => (chance(rng, 0.3) ? `(${tight()}${s}${tight()})` : s);
  let out: string;
  switch (c.k) {
    case "cmp":
      out = `${c.path}${ws()}${c.op}${ws()}${printLit(c.lit, rng)}`;
      break;
    case "in":
      out = `${c.path}${ws() || " "}in${ws() || " "}[${c.list.map((l) => printLit(l, rng)).join(`,${ws()}`)}]`;
      break;
    case "has":
      out = `has(${tight()}${c.path}${tight()})`;
      break;
    case "not":
      out = `!(${tight()}${printCel(c.e, rng)}${tight()})`;
      break;
    default:
      out = `(${tight()}${printCel(c.l, rng)}${tight()})${ws()}${c.k === "and" ? "&&" : "||"}${ws()}(${tight()}${printCel(c.r, rng)}${tight()})`;
  }
  return wrap(out);
}

function matcherYaml(m: Matcher, rng: Rng): unknown {
  const entries: Record<string, unknown> = { ...m };
  for (const op of ["in", "not_in"]) if (Array.isArray(m[op])) entries[op] = set(rng, m[op] as Json[], false);
  return object(rng, entries);
}
function argsYaml(args: Record<string, Matcher> | undefined, rng: Rng): unknown {
  if (!args) return undefined;
  const entries: Record<string, unknown> = {};
  for (const [path, m] of Object.entries(args)) entries[path] = matcherYaml(m, rng);
  return object(rng, entries);
}
function eventYaml(p: EventPattern | undefined, rng: Rng): unknown {
  if (!p) return undefined;
  return object(rng, {
    role: p.role,
    tool: p.tool && set(rng, p.tool, true),
    content: p.content && matcherYaml(p.content, rng),
    args: argsYaml(p.args, rng),
  });
}

/** A value that equals the default, made explicit or left out at random. */
function defaulted<T>(rng: Rng, value: T | undefined, fallback: T): T | undefined {
  if (!rng) return value;
  if (value === undefined) return chance(rng, 0.5) ? fallback : undefined;
  if (value === fallback) return chance(rng, 0.5) ? undefined : value;
  return value;
}
/** A description, edited, dropped or added at random: descriptions are not semantic. */
function description(rng: Rng, value: string | undefined): string | undefined {
  if (!rng) return value;
  return pick(rng, [value, undefined, "edited description", `${value ?? ""} (revised)\nsecond line`]);
}

/** The YAML-shaped object of a policy; with `rng`, scrambled in every way that keeps its meaning. */
function policyYaml(p: Policy, rng: Rng): Record<string, unknown> {
  const rules = p.rules.map((r) => {
    const s = r.match.sequence;
    const maxCalls =
      s?.max_calls && object(rng, { count: s.max_calls.count, per: defaulted(rng, s.max_calls.per, "turn") });
    return object(rng, {
      id: r.id,
      description: description(rng, r.description),
      when: r.when && printCel(r.when, rng),
      match: object(rng, {
        tool: r.match.tool && set(rng, r.match.tool, true),
        args: argsYaml(r.match.args, rng),
        provenance:
          r.match.provenance &&
          object(rng, { args: set(rng, r.match.provenance.args, true), from: r.match.provenance.from }),
        sequence:
          s &&
          object(rng, {
            require_before: eventYaml(s.require_before, rng),
            forbid_before: eventYaml(s.forbid_before, rng),
            since: eventYaml(s.since, rng),
            max_calls: maxCalls,
          }),
        condition: r.match.condition && printCel(r.match.condition, rng),
      }),
      effect: r.effect,
      cost: defaulted(rng, r.cost, 1),
      severity: defaulted(rng, r.severity, "medium"),
      reason: r.reason,
    });
  });
  let sources = p.sources?.map((s) =>
    object(rng, {
      tool: s.tool && set(rng, s.tool, true),
      role: s.role && set(rng, s.role, true),
      integrity: s.integrity,
    }),
  );
  if (rng && sources && sources.length > 0 && chance(rng, 0.3)) sources = [...sources, pick(rng, sources)];
  const defaults =
    p.defaults || chance(rng, 0.3)
      ? object(rng, {
          verdict: defaulted(rng, p.defaults?.verdict, "allow"),
          fail_closed: defaulted(rng, p.defaults?.fail_closed, true),
        })
      : undefined;
  return object(rng, {
    schema: "proof.policy/v1",
    policy_id: p.policy_id,
    description: description(rng, p.description),
    defaults,
    sources: sources && shuffled(rng, sources),
    rules: shuffled(rng, rules),
  });
}

/** Plain rendering: the `yaml` library's defaults. */
function renderPlain(p: Policy): string {
  return new Document(policyYaml(p, null)).toString();
}

const STRING_TYPES = ["PLAIN", "QUOTE_DOUBLE", "QUOTE_SINGLE", "BLOCK_LITERAL", "BLOCK_FOLDED"] as const;

/**
 * Scrambled rendering: keys, rules and sets shuffled, defaults and descriptions changed, other
 * styles, comments, aliases, hex and exponent numbers, CRLF. Also returns the scrambled value.
 */
function scramble(p: Policy, seed: number): { text: string; value: unknown } {
  const rng = random(seed);
  const value = policyYaml(p, rng);
  const doc = new Document(value, { aliasDuplicateObjects: true });
  doc.commentBefore = " a policy";
  visit(doc, {
    Scalar(key, node) {
      // Plain and block styles only where the `yaml` library round-trips them: for leading
      // spaces it falls back to a block scalar with a wrong indentation indicator (indent > 2),
      // and it turns an empty block scalar's trailing comment into its content.
      const blockOk = typeof node.value === "string" && /^\S(.*\S)?$/s.test(node.value);
      if (typeof node.value === "string" && key !== "key") {
        node.type = pick(rng, blockOk ? STRING_TYPES : STRING_TYPES.slice(1, 3));
      }
      // Not -0: both formats drop its sign.
      if (typeof node.value === "number" && Number.isFinite(node.value) && !Object.is(node.value, -0)) {
        if (Number.isInteger(node.value) && node.value >= 0 && chance(rng, 0.3)) node.format = "HEX";
        else if (chance(rng, 0.3)) node.format = "EXP";
      }
      if (key !== "key" && chance(rng, 0.1)) node.comment = " trailing";
    },
    Pair(_key, pair) {
      if (isPair(pair) && isScalar(pair.key) && chance(rng, 0.2)) pair.key.commentBefore = " about this key";
    },
  });
  const collectionStyle = pick(rng, ["any", "block", "flow"] as const);
  const options: ToStringOptions = {
    collectionStyle,
    defaultKeyType: pick(rng, [null, "PLAIN", "QUOTE_DOUBLE", "QUOTE_SINGLE"] as const),
    indent: pick(rng, [2, 3, 4]),
    // Left at their defaults: with `indentSeq: false` the `yaml` library writes an empty `[]`
    // where it cannot be parsed, and at narrow widths it folds double-quoted strings wrongly.
    lineWidth: pick(rng, [0, 80]),
    flowCollectionPadding: rng() < 0.5,
  };
  const out = doc.toString(options);
  return { text: rng() < 0.3 ? out.replace(/\n/g, "\r\n") : out, value };
}

/** A change to the meaning of a policy, applied in place; each one always applies. */
const MUTATIONS: ((p: Policy, r: Rule) => void)[] = [
  (p) => {
    p.policy_id = `${p.policy_id}x`;
  },
  (p) => {
    const current = p.defaults?.verdict ?? "allow";
    p.defaults = { ...p.defaults, verdict: VERDICTS.find((v) => v !== current) as Verdict };
  },
  (p) => {
    p.defaults = { ...p.defaults, fail_closed: !(p.defaults?.fail_closed ?? true) };
  },
  (_p, r) => {
    r.effect = VERDICTS.find((v) => v !== r.effect) as Verdict;
  },
  (_p, r) => {
    r.cost = (r.cost ?? 1) + 1;
  },
  (_p, r) => {
    r.severity = SEVERITIES.find((s) => s !== (r.severity ?? "medium"));
  },
  (_p, r) => {
    r.reason = "mutated_reason_zz";
  },
  (_p, r) => {
    r.match.tool = [...(r.match.tool ?? ["some_tool"]), "mutated_tool"];
  },
  (_p, r) => {
    r.when = { k: "cmp", path: "context.mutated", op: "==", lit: { t: "int", v: 1 } };
  },
  (_p, r) => {
    r.match.condition = { k: "has", path: "args.mutated" };
  },
  (_p, r) => {
    r.match.args = { ...r.match.args, mutated: { eq: 1 } };
  },
  (_p, r) => {
    const m = Object.values(r.match.args ?? {}).find((x) => Array.isArray(x.in));
    if (m) m.in = [...(m.in as Json[]), "mutated value"];
    else r.match.args = { ...r.match.args, mutated: { in: ["mutated value"] } };
  },
  (_p, r) => {
    const m = Object.values(r.match.args ?? {}).find((x) => typeof x.matches === "string");
    if (m) m.matches = `${m.matches as string}mutated`;
    else r.match.args = { ...r.match.args, mutated: { matches: "^mutated" } };
  },
  (p) => {
    // Every entry for the same tools and roles as the first one moves to another level, so that
    // the first entry's level is gone even when the list repeats it.
    const first = p.sources?.[0];
    if (!first) {
      p.sources = [{ tool: ["mutated_tool"], integrity: "trusted" }];
      return;
    }
    const scope = (s: Source) => JSON.stringify([[...new Set(s.tool)].sort(), [...new Set(s.role)].sort()]);
    const from = first.integrity;
    const to = INTEGRITIES.find((i) => i !== from) as Source["integrity"];
    for (const s of p.sources ?? []) if (scope(s) === scope(first) && s.integrity === from) s.integrity = to;
  },
  (_p, r) => {
    const prov = r.match.provenance;
    if (prov) prov.from = prov.from === "unknown" ? "untrusted" : "unknown";
    else r.match.provenance = { args: ["mutated"], from: "untrusted" };
  },
  (_p, r) => {
    const seq = r.match.sequence;
    if (seq?.max_calls) seq.max_calls.count += 1;
    else r.match.sequence = { ...seq, max_calls: { count: 7 } };
  },
  // Generated ids never hold a '-', so this one is new.
  (_p, r) => {
    r.id = `${r.id}-zz`;
  },
];

describe("policy_digest, properties over random policies", () => {
  it("is the same for a policy rendered plainly and scrambled", () => {
    fc.assert(
      fc.property(policyArb, fc.integer(), (policy, seed) => {
        const plainText = renderPlain(policy);
        const scrambled = scramble(policy, seed);
        // The rendering itself must be faithful, or a digest failure would mean nothing.
        expect(parse(scrambled.text)).toEqual(scrambled.value);
        const plain = compilePolicy(plainText, "plain.yaml");
        expect(compilePolicy(scrambled.text, "scrambled.yaml").policy_digest).toBe(plain.policy_digest);
        expect(loadIR(JSON.stringify(plain), "ir.json").policy_digest).toBe(plain.policy_digest);
      }),
      { numRuns: 100 },
    );
  });

  it("changes with any semantic mutation", () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.nat(MUTATIONS.length - 1),
        fc.nat(),
        fc.integer(),
        (policy, which, ruleIndex, seed) => {
          const before = compilePolicy(renderPlain(policy), "before.yaml").policy_digest;
          const mutated = structuredClone(policy);
          const mutate = MUTATIONS[which] as (p: Policy, r: Rule) => void;
          mutate(mutated, mutated.rules[ruleIndex % mutated.rules.length] as Rule);
          const after = compilePolicy(scramble(mutated, seed).text, "after.yaml").policy_digest;
          expect(after).not.toBe(before);
        },
      ),
      { numRuns: 100 },
    );
  });
});
