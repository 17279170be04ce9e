import { digestOf } from "../../src/io/canonical.js";

/**
 * docs/traces.md's definition of a trace id, computed whole: the digest of the canonical JSON of
 * the event array without `at`, call ids replaced by call order (`#0`, `#1`... by the first call
 * that used each id; a result's by the call it answers, null when none). What the streamed and
 * field-by-field trace id (src/trace/builder.ts) must equal.
 */
export function referenceTraceId(events: readonly object[]): string {
  const order = new Map<unknown, number>();
  let calls = 0;
  return digestOf(
    events.map((event) => {
      const e = event as Record<string, unknown>;
      const { at: _at, ...rest } = e;
      if (e.type === "tool_call") {
        const k = calls++;
        if (e.call_id !== null && !order.has(e.call_id)) order.set(e.call_id, k);
        return { ...rest, call_id: `#${k}` };
      }
      if (e.type === "tool_result") {
        const k = e.call_id === null ? undefined : order.get(e.call_id);
        return { ...rest, call_id: k === undefined ? null : `#${k}` };
      }
      return rest;
    }),
  );
}
