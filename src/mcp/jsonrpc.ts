/**
 * The JSON-RPC 2.0 shapes the proxy inspects (MCP 2025-06-18, "Base Protocol"). Only what is
 * needed to find requests, match responses and answer errors; everything else is forwarded as the
 * raw line it came in.
 */

/** A JSON-RPC id: string or number; `null` only in an error answering an unreadable request. */
export type JsonRpcId = string | number | null;

/** One parsed JSON-RPC message, as an object (fields unchecked beyond what is used). */
export type JsonRpcMessage = Record<string, unknown>;

/** A line read from a peer, classified. */
export type ParsedLine =
  | { kind: "message"; message: JsonRpcMessage }
  | { kind: "batch"; messages: unknown[] }
  | { kind: "invalid"; reason: string };

/** JSON-RPC 2.0 standard error codes. */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;

/**
 * Application error codes of the proxy (outside the range -32768..-32000 that JSON-RPC reserves),
 * documented in docs/boundary.md. A client can tell a policy refusal from a proxy fault.
 */
export const POLICY_REFUSED = -31001;
export const PROXY_FAULT = -31002;
export const SERVER_UNAVAILABLE = -31003;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Parses one line: a message object, a batch array, or why it is neither. */
export function parseLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { kind: "invalid", reason: (err as Error).message };
  }
  if (Array.isArray(value)) return { kind: "batch", messages: value };
  if (!isObject(value)) return { kind: "invalid", reason: "a JSON-RPC message must be an object" };
  return { kind: "message", message: value };
}

/** Whether a message has a usable id (a request or a response, not a notification). */
export function idOfMessage(m: JsonRpcMessage): JsonRpcId | undefined {
  const id = m.id;
  if (typeof id === "string" || typeof id === "number") return id;
  return undefined;
}

/** Whether a message is a request (has a method and an id). */
export function isRequest(m: JsonRpcMessage): boolean {
  return typeof m.method === "string" && idOfMessage(m) !== undefined;
}

/** Whether a message is a response (has `result` or `error`, no method). */
export function isResponse(m: JsonRpcMessage): boolean {
  return typeof m.method !== "string" && ("result" in m || "error" in m);
}

/** Key of an id in a map: its JSON, so that 1 and "1" stay different as JSON-RPC says. */
export function idKey(id: JsonRpcId): string {
  return JSON.stringify(id);
}

/** A JSON-RPC error response, as one line without the newline. */
export function errorLine(id: JsonRpcId, code: number, message: string, data?: unknown): string {
  const error: Record<string, unknown> = { code, message };
  if (data !== undefined) error.data = data;
  return JSON.stringify({ jsonrpc: "2.0", id, error });
}

/** A JSON-RPC error response object (for a batch answer). */
export function errorObject(id: JsonRpcId, code: number, message: string): JsonRpcMessage {
  return { jsonrpc: "2.0", id, error: { code, message } };
}
