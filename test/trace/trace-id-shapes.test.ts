/**
 * The trace id writes events of the usual shape field by field (src/trace/builder.ts): the same
 * digest as the canonical JSON of the whole semantic array, for those and for any other shape.
 */
import { describe, expect, it } from "vitest";
import { traceId } from "../../src/trace/builder.js";
import type { TraceEvent } from "../../src/trace/model.js";
import { referenceTraceId } from "../helpers/trace-id.js";

/** An event with no `call_id` key at all. */
function withoutCallId(e: Record<string, unknown>): Record<string, unknown> {
  const { call_id: _id, ...rest } = e;
  return rest;
}

const usual: Record<string, unknown>[] = [
  { type: "message", seq: 0, role: "user", content: 'pay \ud800 "Bob" \n 10 €', at: "[0]" },
  {
    type: "tool_call",
    seq: 1,
    message_seq: 0,
    call_id: "c1",
    tool: "pay",
    args: { z: [1.5e300, -0], a: "x" },
    at: "[1]",
  },
  { type: "tool_call", seq: 2, message_seq: null, call_id: null, tool: "t", args: null, at: "[2]" },
  { type: "tool_result", seq: 3, call_id: "c1", tool: null, content: "", error: "refused\u2028", at: "[3]" },
  { type: "tool_result", seq: 4, call_id: "gone", tool: "t", content: "ok", error: null, at: "[4]" },
];

describe("traceId", () => {
  it("is the whole array's digest for events of the usual shape", () => {
    expect(traceId(usual as unknown as TraceEvent[])).toBe(referenceTraceId(usual));
  });

  it("is the whole array's digest for events of any other shape", () => {
    const odd: Record<string, unknown>[][] = [
      [{ ...usual[0], extra: 1 }],
      [{ ...usual[0], content: undefined }],
      [{ type: "message", seq: 0, role: "user", content: "no at" }],
      [{ ...usual[1], args: undefined }],
      [{ ...usual[1], message_seq: "0" }],
      [{ ...usual[1], args: { 10: "integer-like key", b: [1, { d: 1, c: 2 }] } }],
      [usual[1] as Record<string, unknown>, { ...usual[3], error: undefined }],
      [usual[1] as Record<string, unknown>, { ...usual[3], tool: 5 }],
      [{ ...withoutCallId(usual[3] as Record<string, unknown>), note: "in call_id's place" }],
      [{ type: "custom", seq: 0, at: "[0]", call_id: "kept" }],
    ];
    for (const events of odd)
      expect(traceId(events as unknown as TraceEvent[])).toBe(referenceTraceId(events));
  });
});
