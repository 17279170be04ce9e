/**
 * Random JSON-RPC traffic through the proxy core: whatever the client sends (odd methods, params
 * and ids, nested arguments, control characters, duplicate keys written into the raw text), every
 * `tools/call` the server could run was decided `allow` or `warn` by the guard with exactly the
 * name and arguments the server reads, whether its parser keeps the first or the last of
 * duplicate keys. Nothing undecided reaches the server.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/io/canonical.js";
import { parseFirstKey, recordingProxy } from "./helpers.js";

/** A JSON text (written by hand, so that duplicate keys survive). */
type Raw = string;

/** Key spellings: plain, or with a `\u` escape that reads as the same key. */
function spell(key: string): fc.Arbitrary<string> {
  const escaped = `"\\u${key.charCodeAt(0).toString(16).padStart(4, "0")}${JSON.stringify(key).slice(2)}`;
  return key === "" ? fc.constant('""') : fc.constantFrom(JSON.stringify(key), JSON.stringify(key), escaped);
}

/** An object of random entries, in order, duplicates kept. */
function rawObject(entry: fc.Arbitrary<[string, Raw]>, maxLength: number): fc.Arbitrary<Raw> {
  return fc
    .array(entry, { maxLength })
    .map((entries) => `{${entries.map(([k, v]) => `${k}:${v}`).join(",")}}`);
}

function keyed(keys: string[], value: fc.Arbitrary<Raw>): fc.Arbitrary<[string, Raw]> {
  return fc.tuple(
    fc.constantFrom(...keys).chain((k) => spell(k)),
    value,
  );
}

const TOOLS = ["delete_repo", "read_file", "write_file", "deploy", "read_secret", "send_email", "x"];

const scalar: fc.Arbitrary<Raw> = fc.oneof(
  fc.constantFrom("null", "true", "false", "0", "-0", "1e400", "12345678901234567890", "1.5"),
  fc.integer().map(String),
  fc
    .constantFrom(...TOOLS, "/etc/shadow", "notes.txt", "a\u0000b", "\u202e", "")
    .map((s) => JSON.stringify(s)),
  fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s)),
);

/** Nested argument values: scalars, arrays, objects with repeatable keys. */
const argValue: fc.Arbitrary<Raw> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    fc.array(tie("value") as fc.Arbitrary<Raw>, { maxLength: 3 }).map((xs) => `[${xs.join(",")}]`),
    rawObject(keyed(["path", "to", "a"], tie("value") as fc.Arbitrary<Raw>), 3),
  ),
})).value;

const args: fc.Arbitrary<Raw> = fc.oneof(
  { weight: 6, arbitrary: rawObject(keyed(["path", "to", "content", "a\u0007"], argValue), 4) },
  { weight: 1, arbitrary: scalar },
  { weight: 1, arbitrary: fc.constant("[]") },
);

const toolName: fc.Arbitrary<Raw> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...TOOLS).map((t) => JSON.stringify(t)) },
  { weight: 1, arbitrary: fc.constantFrom(...TOOLS).map((t) => `[${JSON.stringify(t)}]`) },
  { weight: 1, arbitrary: scalar },
  {
    weight: 1,
    arbitrary: fc.constantFrom('{"toString":"delete_repo"}', '"delete_repo\\n"', '"\\u0064elete_repo"'),
  },
);

/**
 * Fields in a random order: each of `always` once (unless dropped), then `extra` ones, whose
 * repeats carry fresh values, so that the two readers may disagree.
 */
function fields(
  always: [string, fc.Arbitrary<Raw>][],
  extra: [string, fc.Arbitrary<Raw>][],
  dropRate: number,
): fc.Arbitrary<Raw> {
  const entry = ([k, v]: [string, fc.Arbitrary<Raw>]) => fc.tuple(spell(k), v);
  return fc
    .tuple(
      fc.tuple(
        ...always.map((f) =>
          fc.oneof({ weight: dropRate, arbitrary: fc.constant(null) }, { weight: 10, arbitrary: entry(f) }),
        ),
      ),
      fc.oneof(
        { weight: 4, arbitrary: fc.constant([]) },
        {
          weight: 1,
          arbitrary: fc.array(fc.constantFrom(...extra).chain(entry), { minLength: 1, maxLength: 2 }),
        },
      ),
      fc.array(fc.nat(), { minLength: 2, maxLength: 2 }),
    )
    .map(([base, more, at]) => {
      const entries = base.filter((e): e is [string, Raw] => e !== null);
      more.forEach((e, n) => {
        entries.splice((at[n] ?? 0) % (entries.length + 1), 0, e);
      });
      return `{${entries.map(([k, v]) => `${k}:${v}`).join(",")}}`;
    });
}

const params: fc.Arbitrary<Raw> = fc.oneof(
  {
    weight: 8,
    arbitrary: fields(
      [
        ["name", toolName],
        ["arguments", args],
      ],
      [
        ["name", toolName],
        ["arguments", args],
        ["_meta", argValue],
      ],
      1,
    ),
  },
  { weight: 1, arbitrary: scalar },
  { weight: 1, arbitrary: fc.constant('["delete_repo"]') },
);

const method: fc.Arbitrary<Raw> = fc.oneof(
  { weight: 8, arbitrary: fc.constant('"tools/call"') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('"ping"', '"tools/list"', '"notifications/initialized"', '"Tools/call"'),
  },
  { weight: 1, arbitrary: fc.constantFrom('["tools/call"]', "null", '{"tools/call":1}') },
);

const id: fc.Arbitrary<Raw> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 5 }).map(String) },
  { weight: 2, arbitrary: fc.constantFrom('"a"', '"1"', "1.5", "1e400") },
  { weight: 1, arbitrary: fc.constantFrom("null", "true", "{}", "[1]") },
);

const version: fc.Arbitrary<Raw> = fc.oneof(
  { weight: 10, arbitrary: fc.constant('"2.0"') },
  { weight: 1, arbitrary: fc.constantFrom('"1.0"', "2") },
);

/** One client line: mostly a plausible request, with fields dropped, repeated or added. */
const clientLine: fc.Arbitrary<Raw> = fc.oneof(
  {
    weight: 12,
    arbitrary: fields(
      [
        ["jsonrpc", version],
        ["id", id],
        ["method", method],
        ["params", params],
      ],
      [
        ["id", id],
        ["method", method],
        ["params", params],
        ["result", fc.constant("{}")],
      ],
      1,
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom("[]", "{not json", '"tools/call"', "") },
  {
    weight: 1,
    arbitrary: fc
      .array(
        fc.constantFrom(
          '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"delete_repo"}}',
          '{"jsonrpc":"2.0","method":"ping"}',
        ),
        { minLength: 1, maxLength: 2 },
      )
      .map((xs) => `[${xs.join(",")}]`),
  },
);

/** A server answer to a forwarded request: a tool result with text and structured content. */
function answer(forwarded: unknown): string | undefined {
  if (forwarded === null || typeof forwarded !== "object" || Array.isArray(forwarded)) return undefined;
  const m = forwarded as Record<string, unknown>;
  if (typeof m.id !== "string" && typeof m.id !== "number") return undefined;
  return JSON.stringify({
    jsonrpc: "2.0",
    id: m.id,
    result: {
      content: [{ type: "text", text: "see /etc/shadow" }],
      structuredContent: { to: "mallory@evil.example" },
    },
  });
}

describe("McpProxy under random client traffic", () => {
  it("lets the server run only tools/calls the guard allowed, with exactly the judged name and arguments", () => {
    let toolCallsForwarded = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.array(clientLine, { minLength: 1, maxLength: 8 }), (lines) => {
        const r = recordingProxy();
        for (const line of lines) {
          const sentBefore = r.server.length;
          const decidedBefore = r.decided.length;
          r.proxy.fromClient(line);
          const forwarded = r.server.slice(sentBefore);
          const decided = r.decided.slice(decidedBefore);
          const allowed = decided.filter((d) => d.forwarded);
          let calls = 0;
          for (const text of forwarded) {
            const last: unknown = JSON.parse(text);
            const first = parseFirstKey(text);
            // Both kinds of server read the forwarded line alike.
            expect(canonicalJson(first)).toBe(canonicalJson(last));
            // No batch, and no method a server could coerce into another one.
            expect(Array.isArray(last)).toBe(false);
            const m = last as Record<string, unknown>;
            if (Object.hasOwn(m, "method")) expect(typeof m.method).toBe("string");
            if (m.method !== "tools/call") continue;
            calls++;
            const p = m.params as Record<string, unknown>;
            expect(typeof p.name).toBe("string");
            const d = allowed[calls - 1];
            expect(d, `undecided tools/call forwarded: ${text}`).toBeDefined();
            if (!d) continue;
            expect(["allow", "warn"]).toContain(d.decision.verdict);
            expect(d.decision.tool).toBe(p.name);
            const judged = r.guard.trace().events.find((e) => e.seq === d.decision.seq);
            expect(judged?.type).toBe("tool_call");
            expect(canonicalJson(judged && "args" in judged ? judged.args : null)).toBe(
              canonicalJson(p.arguments ?? {}),
            );
          }
          // Every call decided as forwarded was forwarded, once.
          expect(calls).toBe(allowed.length);
          toolCallsForwarded += calls;
          refused += decided.length - allowed.length;
          for (const text of forwarded) {
            const reply = answer(JSON.parse(text));
            if (reply) r.proxy.fromServer(reply);
          }
        }
      }),
      { numRuns: 3000 },
    );
    // The generator reaches both sides of the gate.
    expect(toolCallsForwarded).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });
});
