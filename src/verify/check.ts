import { inputError } from "../errors.js";
import type { JsonValue } from "../policy/ir.js";
import { traceId } from "../trace/builder.js";
import type { ToolCallEvent, Trace, TraceEvent } from "../trace/model.js";
import type { Decision } from "./decision.js";
import type { Engine } from "./engine.js";

/** One tool call to decide (`proof check --call`): `{"tool": "...", "args": {...}}`. */
export interface ToolCall {
  tool: string;
  args: { [key: string]: JsonValue };
  /** The caller's id for the call, when it has one. */
  call_id?: string;
}

const CALL_KEYS = new Set(["tool", "args", "call_id"]);

/**
 * Checks the shape of a parsed call file: an object with a non-empty string `tool`, an object
 * `args` (default `{}`) and an optional string `call_id`, nothing else.
 * @throws ProofError `call.invalid` (exit 6) naming the file.
 */
export function parseCall(value: unknown, file: string): ToolCall {
  const bad = (message: string) =>
    inputError("call.invalid", message, { file }, 'a call is {"tool": "name", "args": {...}}');
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw bad("a call must be a JSON object");
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) if (!CALL_KEYS.has(key)) throw bad(`unknown key '${key}' in the call`);
  if (typeof obj.tool !== "string" || obj.tool === "") throw bad("'tool' must be a non-empty string");
  const args = obj.args ?? {};
  if (args === null || typeof args !== "object" || Array.isArray(args)) throw bad("'args' must be an object");
  if (obj.call_id !== undefined && typeof obj.call_id !== "string") throw bad("'call_id' must be a string");
  return {
    tool: obj.tool,
    args: args as ToolCall["args"],
    ...(typeof obj.call_id === "string" ? { call_id: obj.call_id } : {}),
  };
}

/**
 * The message that holds a call appended to `events`: the trailing assistant message, or the
 * message of trailing calls (a sibling of a parallel call); none after a tool result or a user
 * message. Sequence rules exclude the call's own message from their `since` window (docs/policy.md).
 */
export function holdingMessage(events: readonly TraceEvent[]): number | null {
  const last = events[events.length - 1];
  if (last?.type === "message") return last.role === "assistant" ? last.seq : null;
  if (last?.type === "tool_call") return last.message_seq;
  return null;
}

/**
 * Decides one tool call as the last event of a prior trace (or of an empty trace): exactly the
 * decision `proof verify` would give that call in a trace ending with it, since the same engine
 * judges the same events. The call's `at` is `call`.
 * @returns the call's decision.
 */
export function decideCall(
  engine: Engine,
  call: ToolCall,
  prior: Trace | undefined,
  caseId: string,
): Decision {
  const events: TraceEvent[] = prior ? [...prior.events] : [];
  const event: ToolCallEvent = {
    type: "tool_call",
    seq: events.length,
    message_seq: holdingMessage(events),
    call_id: call.call_id ?? null,
    tool: call.tool,
    args: call.args,
    at: "call",
  };
  events.push(event);
  const trace: Trace = {
    header: {
      type: "trace",
      trace_id: traceId(events),
      case_id: prior?.header.case_id ?? caseId,
      source: prior?.header.source ?? { format: "proof", file: caseId },
      meta: prior?.header.meta ?? {},
    },
    events,
    warnings: [],
  };
  // Coverage, when the engine collects it, counts the decided call only, not the events before it.
  const result = engine.verify(trace, event.seq);
  const decision = result.decisions[result.decisions.length - 1];
  if (decision?.seq !== event.seq) throw new Error("decideCall: the engine did not decide the appended call");
  return decision;
}
