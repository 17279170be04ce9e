/**
 * The canonical trace model, `proof.trace/v1` (docs/traces.md; schema: schemas/trace-event.schema.json).
 * On disk it is JSON Lines: one header line, then one line per event in order.
 */
import type { JsonValue } from "../policy/ir.js";

/** Trace formats `proof import` and `proof verify` read. */
export type FormatName =
  | "proof"
  | "openai"
  | "openai-responses"
  | "anthropic"
  | "mcp"
  | "otel"
  | "langchain"
  | "agentdojo"
  | "tau-bench";

/** Roles of message events. A source's `tool` messages become tool results, `developer` becomes `system`. */
export type MessageRole = "system" | "user" | "assistant";

/** First line of a canonical trace. */
export interface TraceHeader {
  type: "trace";
  /** Digest of the events without `at` and with call ids replaced by call order: same run, same id. */
  trace_id: string;
  /** What baselines are keyed by: path relative to the traces root (`#N` for the N-th trace of a file), or `meta.case`. */
  case_id: string;
  source: { format: FormatName; file: string };
  meta: Record<string, JsonValue>;
}

/** A message of the conversation. `content` is text ("" for an assistant message that only calls tools). */
export interface MessageEvent {
  type: "message";
  seq: number;
  role: MessageRole;
  content: string;
  /** Address of the event in the source file, e.g. `messages[2]`. */
  at: string;
}

/** A tool call the agent made. `message_seq` is the seq of the assistant message holding it. */
export interface ToolCallEvent {
  type: "tool_call";
  seq: number;
  message_seq: number | null;
  call_id: string | null;
  tool: string;
  args: JsonValue;
  at: string;
}

/** What a tool returned. `error` holds the tool's error text, or null. */
export interface ToolResultEvent {
  type: "tool_result";
  seq: number;
  call_id: string | null;
  tool: string | null;
  content: string;
  error: string | null;
  at: string;
}

/** One event of a trace. */
export type TraceEvent = MessageEvent | ToolCallEvent | ToolResultEvent;

/** A whole trace in memory: the unit of streaming (memory is bounded by the largest trace). */
export interface Trace {
  header: TraceHeader;
  events: TraceEvent[];
  /** Importer notes about the source (e.g. arguments that were not valid JSON). */
  warnings: string[];
}
