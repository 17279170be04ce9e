import { CanonicalArrayHash, canonicalJson } from "../io/canonical.js";
import type { JsonValue } from "../policy/ir.js";
import type { FormatName, MessageRole, ToolCallEvent, Trace, TraceEvent } from "./model.js";

/**
 * Assembles canonical events in source order: assigns `seq`, links calls to their message,
 * resolves a result's tool name from its call id, and computes the trace id.
 */
export class TraceBuilder {
  private readonly events: TraceEvent[] = [];
  private readonly callsById = new Map<string, ToolCallEvent>();
  readonly warnings: string[] = [];

  /** Appends a message; returns its seq. */
  message(role: MessageRole, content: string, at: string): number {
    const seq = this.events.length;
    this.events.push({ type: "message", seq, role, content, at });
    return seq;
  }

  /** Appends a tool call of the message `messageSeq` (null when the source has no messages). */
  toolCall(
    messageSeq: number | null,
    callId: string | null,
    tool: string,
    args: JsonValue,
    at: string,
  ): number {
    const seq = this.events.length;
    const event: ToolCallEvent = {
      type: "tool_call",
      seq,
      message_seq: messageSeq,
      call_id: callId,
      tool,
      args,
      at,
    };
    this.events.push(event);
    if (callId !== null) this.callsById.set(callId, event);
    return seq;
  }

  /**
   * Appends a tool result. Without a tool name it takes the name of the call with the same id;
   * a result whose call is unknown is kept (an `orphan_result` warning), never dropped.
   */
  toolResult(
    callId: string | null,
    tool: string | null,
    content: string,
    error: string | null,
    at: string,
  ): number {
    const seq = this.events.length;
    const call = callId === null ? undefined : this.callsById.get(callId);
    if (callId !== null && !call)
      this.warnings.push(`orphan_result: ${at} answers unknown call id ${callId}`);
    this.events.push({
      type: "tool_result",
      seq,
      call_id: callId,
      tool: tool ?? call?.tool ?? null,
      content,
      // `?? null`: an importer that leaves the error out (undefined) must still write a canonical
      // event, which always has the key (fuzzing found one, test/trace/fuzz.test.ts).
      error: error ?? null,
      at,
    });
    return seq;
  }

  /** Finishes the trace. `caseId` is used unless `meta.case` is a string. */
  build(caseId: string, format: FormatName, file: string, meta: Record<string, JsonValue> = {}): Trace {
    return this.snapshot(caseId, format, file, traceId(this.events), meta);
  }

  /**
   * The trace so far under a given id, without digesting the events: for a live session (the
   * guard), whose id is only known once it ends and whose digest would cost a pass over the whole
   * history on every call.
   */
  snapshot(
    caseId: string,
    format: FormatName,
    file: string,
    id: string,
    meta: Record<string, JsonValue> = {},
  ): Trace {
    const metaCase = meta.case;
    return {
      header: {
        type: "trace",
        trace_id: id,
        case_id: typeof metaCase === "string" && metaCase !== "" ? metaCase : caseId,
        source: { format, file },
        meta,
      },
      events: this.events,
      warnings: this.warnings,
    };
  }
}

/**
 * The trace id of docs/traces.md: a digest of the events without `at`, with every call id replaced
 * by the order of its call (`#0`, `#1`, ...), so that re-recording the same behaviour with fresh
 * call ids, or under another file name, gives the same id.
 *
 * `sha256:` + hex SHA-256 of the canonical JSON (RFC 8785) of that event array. The canonical JSON
 * of an array is `[`, its elements' canonical JSON joined by `,`, then `]`, so the hash is fed one
 * event at a time: no string of the whole trace is ever built, and a long trace costs memory for
 * one event's JSON at a time (the digest is bit for bit `digestOf` of the whole array, src/io/canonical.ts).
 */
export function traceId(events: readonly TraceEvent[]): string {
  const order = new Map<string, number>();
  let calls = 0;
  const hash = new CanonicalArrayHash();
  for (const e of events) {
    let callId: string | null = null;
    if (e.type === "tool_call") {
      const k = calls++;
      if (e.call_id !== null && !order.has(e.call_id)) order.set(e.call_id, k);
      callId = `#${k}`;
    } else if (e.type === "tool_result") {
      const k = e.call_id === null ? undefined : order.get(e.call_id);
      callId = k === undefined ? null : `#${k}`;
    }
    const json = eventJson(e, callId);
    if (json !== undefined) {
      hash.addCanonical(json);
      continue;
    }
    const { at: _at, ...rest } = e;
    hash.add(e.type === "tool_call" || e.type === "tool_result" ? { ...rest, call_id: callId } : rest);
  }
  return hash.digest();
}

/** The `typeof` of a JSON value: arguments of any other type take the general path. */
const JSON_TYPES: ReadonlySet<string> = new Set(["object", "string", "number", "boolean"]);

/** Keys of each event type (docs/traces.md), `at` included: an event with exactly these. */
const EVENT_KEYS = { message: 5, tool_call: 7, tool_result: 7 } as const;

/**
 * The canonical JSON (RFC 8785) of an event without `at` and with call id `callId`, written
 * field by field in code-unit key order, so that only a call's arguments go through the general
 * {@link canonicalJson}; undefined for an event that is not exactly of its type's shape (a field
 * more or less, a value of another type), which the general path then writes.
 */
function eventJson(e: TraceEvent, callId: string | null): string | undefined {
  if (Object.keys(e).length !== EVENT_KEYS[e.type] || typeof e.at !== "string" || !Number.isFinite(e.seq))
    return undefined;
  // The call id written is `callId`; the event's own only has to be there, as its type has it.
  if (e.type !== "message" && e.call_id !== null && typeof e.call_id !== "string") return undefined;
  const id = callId === null ? "null" : JSON.stringify(callId);
  if (e.type === "message") {
    if (typeof e.content !== "string" || typeof e.role !== "string") return undefined;
    return `{"content":${JSON.stringify(e.content)},"role":${JSON.stringify(e.role)},"seq":${e.seq},"type":"message"}`;
  }
  if (e.type === "tool_call") {
    const m = e.message_seq;
    const args = typeof e.args;
    if (!JSON_TYPES.has(args) || typeof e.tool !== "string" || (m !== null && !Number.isFinite(m)))
      return undefined;
    return `{"args":${canonicalJson(e.args)},"call_id":${id},"message_seq":${m === null ? "null" : m},"seq":${e.seq},"tool":${JSON.stringify(e.tool)},"type":"tool_call"}`;
  }
  const { content, error, tool } = e;
  if (typeof content !== "string" || (error !== null && typeof error !== "string")) return undefined;
  if (tool !== null && typeof tool !== "string") return undefined;
  return `{"call_id":${id},"content":${JSON.stringify(content)},"error":${error === null ? "null" : JSON.stringify(error)},"seq":${e.seq},"tool":${tool === null ? "null" : JSON.stringify(tool)},"type":"tool_result"}`;
}
