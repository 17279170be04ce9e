import { describe, expect, it } from "vitest";
import { CanonicalArrayHash, digestOf } from "../../src/io/canonical.js";
import type { JsonValue } from "../../src/policy/ir.js";
import { TraceBuilder, traceId } from "../../src/trace/builder.js";
import { parseJson } from "../../src/trace/json.js";
import type { TraceEvent } from "../../src/trace/model.js";
import { referenceTraceId } from "../helpers/trace-id.js";

/** A value nested `depth` arrays deep around a string. */
function nested(depth: number): JsonValue {
  let v: JsonValue = "core";
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** A string holding lone surrogates (valid JSON escapes, invalid Unicode). */
const LONE = parseJson('"pay \\udc00 now \\ud800"', "t.json") as string;

/** Events exercising canonical JSON's paths: unicode, numbers, unusual keys, deep nesting. */
function variedEvents(lone = "plain"): TraceEvent[] {
  const b = new TraceBuilder();
  const m0 = b.message("user", "Überweise 10 € an 🦊 — 日本語", "[0]");
  b.message("system", lone, "[1]");
  b.toolCall(
    m0,
    "call_b",
    "send_money",
    { recipient: "DE89 3704", amount: 1e21, fee: -0, ratio: 0.1 },
    "[2]",
  );
  // Integer-like keys and __proto__ leave the fast path for the library (src/io/canonical.ts).
  b.toolCall(
    m0,
    "call_a",
    "write",
    parseJson('{"2":"b","10":"a","__proto__":{"x":1}}', "t.json") as JsonValue,
    "[3]",
  );
  b.toolCall(null, null, "deep", { v: nested(300) }, "[4]");
  b.toolResult("call_a", null, "done \u2028 \u0000", null, "[5]");
  b.toolResult("call_b", "send_money", "", "refused: \ud83d\ude00", "[6]");
  b.toolResult("unknown", null, "orphan", null, "[7]");
  b.toolResult(null, null, "no id", null, "[8]");
  b.toolCall(m0, "call_a", "again", { a: [1, 2.5, true, null, "x"], z: {}, y: [] }, "[9]");
  return b.build("t.json", "openai", "t.json").events;
}

describe("the streamed trace id", () => {
  it("equals the digest of the whole canonical string on varied events", () => {
    const events = variedEvents();
    expect(traceId(events)).toBe(referenceTraceId(events));
    // Every prefix too: the joins between elements are where a stream could differ.
    for (let n = 0; n <= events.length; n++) {
      expect(traceId(events.slice(0, n))).toBe(referenceTraceId(events.slice(0, n)));
    }
  });

  it("equals it with lone surrogates, which only the fast path of canonical JSON accepts", () => {
    const unusual = new Set(["write", "deep"]);
    const events = variedEvents(LONE).filter((e) => e.type !== "tool_call" || !unusual.has(e.tool));
    expect(traceId(events)).toBe(referenceTraceId(events));
  });

  it("exists where the whole string had none: a lone surrogate beside an integer-like key", () => {
    // One element needing the library (which refuses lone surrogates) no longer sends the
    // whole array there: only that element goes.
    const events = variedEvents(LONE);
    expect(() => referenceTraceId(events)).toThrow(/surrogate/i);
    expect(traceId(events)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(traceId(events)).toBe(traceId(variedEvents(LONE)));
  });

  it("of no events is the digest of []", () => {
    expect(traceId([])).toBe(digestOf([]));
  });
});

describe("CanonicalArrayHash", () => {
  it("gives digestOf of the array, undefined elements as null", () => {
    const values: unknown[] = [1, "a", { b: 2, a: [undefined, 3] }, null, undefined, { "1": "x" }];
    const h = new CanonicalArrayHash();
    for (const v of values) h.add(v);
    expect(h.digest()).toBe(digestOf(values));
  });
});
