/**
 * The JSON-RPC 2.0 shapes the proxy inspects (MCP 2025-06-18, "Base Protocol"; JSON-RPC 2.0
 * specification, "Request object", "Response object", "Error object"). Lines are read strictly:
 * a line that two JSON readers could read differently (a key given twice, a number no double can
 * hold, nesting past the limit) is ambiguous, never a message, because the proxy must judge the
 * very message the server acts on.
 */
import { visit } from "jsonc-parser";
import { ProofError } from "../errors.js";
import { shapeOf } from "../trace/formats/common.js";
import { parseJson } from "../trace/json.js";

/** A JSON-RPC id: string or number; `null` only in an error answering an unreadable request. */
export type JsonRpcId = string | number | null;

/** One parsed JSON-RPC message, as an object (fields unchecked beyond what is used). */
export type JsonRpcMessage = Record<string, unknown>;

/** A line read from a peer, classified. */
export type ParsedLine =
  | { kind: "message"; message: JsonRpcMessage }
  | { kind: "batch"; messages: unknown[] }
  /** Not JSON, or JSON that is not an object or an array. */
  | { kind: "invalid"; reason: string; code: number }
  /**
   * JSON that readers disagree on. `value` is what `JSON.parse` reads (the last of duplicate
   * keys); `id` is the request's id when the line names exactly one usable top-level `id`.
   */
  | { kind: "ambiguous"; reason: string; value: unknown; id: string | number | null };

/** JSON-RPC 2.0 standard error codes. */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const INVALID_PARAMS = -32602;

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

/**
 * Parses one line strictly (src/trace/json.ts `parseJson`): a message object, a batch array, not
 * JSON or not a message (`invalid`, with the JSON-RPC code to answer), or `ambiguous`.
 */
export function parseLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = parseJson(line, "line");
  } catch (err) {
    if (!(err instanceof ProofError)) throw err;
    const where = err.location?.column === undefined ? "" : ` at column ${err.location.column}`;
    const reason = `${err.message}${where}`;
    if (err.code === "trace.invalid_json") return { kind: "invalid", reason, code: PARSE_ERROR };
    // Only ambiguity is left: JSON.parse accepted the text.
    const loose: unknown = JSON.parse(line);
    return {
      kind: "ambiguous",
      reason,
      value: loose,
      id: err.code === "json.too_deep" ? null : soleId(line, loose),
    };
  }
  if (Array.isArray(value)) return { kind: "batch", messages: value };
  if (!isObject(value))
    return {
      kind: "invalid",
      reason: `a JSON-RPC message must be an object, not ${shapeOf(value)}`,
      code: INVALID_REQUEST,
    };
  return { kind: "message", message: value };
}

/**
 * The id of an ambiguous message when its top level names `id` exactly once (so every reader
 * agrees on it) and it is a string or a number; else null, as JSON-RPC answers a request whose id
 * cannot be told. Only called on text within parseJson's nesting limit (the visitor recurses).
 */
function soleId(line: string, loose: unknown): string | number | null {
  let depth = 0;
  let ids = 0;
  visit(line, {
    onObjectBegin: () => {
      depth++;
    },
    onObjectEnd: () => {
      depth--;
    },
    onArrayBegin: () => {
      depth++;
    },
    onArrayEnd: () => {
      depth--;
    },
    onObjectProperty: (property) => {
      if (depth === 1 && property === "id") ids++;
    },
  });
  if (ids !== 1 || !isObject(loose)) return null;
  return validId(loose.id) ? loose.id : null;
}

/** Whether a value may be a request's id: a string or a number (MCP: never null). */
export function validId(id: unknown): id is string | number {
  return typeof id === "string" || typeof id === "number";
}

/** Whether a message has a usable id (a request or a response, not a notification). */
export function idOfMessage(m: JsonRpcMessage): string | number | undefined {
  return validId(m.id) ? m.id : undefined;
}

/** Whether a message is a request (has a method and an id). */
export function isRequest(m: JsonRpcMessage): boolean {
  return typeof m.method === "string" && idOfMessage(m) !== undefined;
}

/**
 * Whether a message is a response: no `method` key at all (a `method` of the wrong type must not
 * make a request look like a response) and a `result` or an `error`.
 */
export function isResponse(m: JsonRpcMessage): boolean {
  return !Object.hasOwn(m, "method") && (Object.hasOwn(m, "result") || Object.hasOwn(m, "error"));
}

/** Key of an id in a map: its JSON, so that 1 and "1" stay different as JSON-RPC says. */
export function idKey(id: JsonRpcId): string {
  return JSON.stringify(id);
}

/** A `tools/call` request's params read as the guard judges them, or why they cannot be. */
export type ToolCallParams =
  | { ok: true; tool: string; args: Record<string, unknown> }
  /** `at`: the field at fault (`params`, `params.name`, `params.arguments`). */
  | { ok: false; at: string; reason: string };

/**
 * Reads the params of a `tools/call` (MCP 2025-06-18, "Server Features / Tools": `params: {name:
 * string, arguments?: object}`). Anything else is refused, never guessed: a name that is not a
 * non-empty string cannot be matched against a policy, and a server might still find a tool by
 * it (`tools[["delete_repo"]]` is `tools.delete_repo` in JavaScript). Absent `arguments` are
 * judged as `{}`.
 */
export function toolCallParams(params: unknown): ToolCallParams {
  if (!isObject(params))
    return { ok: false, at: "params", reason: `params is ${shapeOf(params)}, not an object` };
  const name = params.name;
  if (typeof name !== "string" || name === "")
    return {
      ok: false,
      at: "params.name",
      reason: `params.name is ${name === "" ? "an empty string" : shapeOf(name)}, not a non-empty string`,
    };
  if (!Object.hasOwn(params, "arguments")) return { ok: true, tool: name, args: {} };
  if (!isObject(params.arguments))
    return {
      ok: false,
      at: "params.arguments",
      reason: `params.arguments is ${shapeOf(params.arguments)}, not an object`,
    };
  return { ok: true, tool: name, args: params.arguments };
}

/** Longest tool name shown in a refusal message or on stderr (code points). */
export const MAX_SHOWN_NAME = 128;

/**
 * A tool name as refusal messages and stderr show it: as it is when it is plain (printable, no
 * space, quote or backslash), else quoted with JSON escapes, and invisible or bidirectional
 * format characters escaped too, so that no name can break a log line or disguise itself.
 * Longer names are cut at {@link MAX_SHOWN_NAME} code points, marked with `…`.
 */
export function showName(name: string): string {
  const chars = [...name];
  const cut = chars.length > MAX_SHOWN_NAME ? `${chars.slice(0, MAX_SHOWN_NAME - 1).join("")}…` : name;
  if (cut !== "" && !UNPLAIN.test(cut)) return cut;
  return JSON.stringify(cut).replace(INVISIBLE, hexEscape);
}

/** Characters that make a name need quoting. */
const UNPLAIN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is detected
  /[\u0000-\u0020"\\\u007f-\u00a0\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]/;
/** What JSON.stringify leaves raw but a reader cannot see: C1 controls, format and bidi characters. */
const INVISIBLE = /[\u007f-\u00a0\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]/g;

/**
 * Text with control characters and invisible or bidirectional format characters written as
 * `\uXXXX` escapes: quoted client or server content stays one visible, undisguised line.
 */
export function inert(text: string): string {
  return text.replace(CONTROL_OR_INVISIBLE, hexEscape);
}

function hexEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

const CONTROL_OR_INVISIBLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is escaped
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g;

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
