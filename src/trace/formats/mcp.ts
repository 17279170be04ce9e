import { TraceBuilder } from "../builder.js";
import type { Trace } from "../model.js";
import {
  accept,
  contentText,
  type Detection,
  idOf,
  isObject,
  parseArguments,
  reject,
  shapeOf,
  type TraceFormat,
} from "./common.js";

/** Whether a value is one JSON-RPC 2.0 message (request, notification or response). */
function isJsonRpc(v: unknown): v is Record<string, unknown> {
  return isObject(v) && v.jsonrpc === "2.0";
}

/** The JSON-RPC messages of one log entry, with their addresses relative to the entry. */
function messagesOf(entry: unknown): { msg: Record<string, unknown>; at: string }[] | null {
  if (isJsonRpc(entry)) return [{ msg: entry, at: "" }];
  if (isObject(entry) && isJsonRpc(entry.message)) return [{ msg: entry.message, at: ".message" }];
  // A JSON-RPC batch (allowed by MCP 2025-03-26, removed in 2025-06-18).
  if (Array.isArray(entry) && entry.length > 0 && entry.every(isJsonRpc))
    return entry.map((msg, i) => ({ msg, at: `[${i}]` }));
  return null;
}

/**
 * Whether one log entry (a line of a `.jsonl` file, or an element of a `.json` array) is an MCP
 * JSON-RPC message: `{jsonrpc: "2.0", ...}`, a wrapped `{message: {jsonrpc: "2.0", ...}}`, or a
 * batch array of messages.
 */
export function isMcpEntry(entry: unknown): boolean {
  return messagesOf(entry) !== null;
}

/** Explains whether one log entry (the first line of a `.jsonl` file) is an MCP message. */
export function inspectMcpEntry(entry: unknown, where: string): Detection {
  if (isJsonRpc(entry)) return accept(`${where} is a JSON-RPC 2.0 message ("jsonrpc": "2.0")`);
  if (isObject(entry) && isJsonRpc(entry.message))
    return accept(`${where} wraps a JSON-RPC 2.0 message in "message"`);
  if (messagesOf(entry)) return accept(`${where} is a JSON-RPC 2.0 batch`);
  return reject(`${where} is ${shapeOf(entry)} without "jsonrpc": "2.0"`);
}

function inspectMcp(doc: unknown): Detection {
  if (!Array.isArray(doc) || doc.length === 0)
    return reject(`the document is ${shapeOf(doc)}, not an array of JSON-RPC messages`);
  const bad = doc.findIndex((e) => !isMcpEntry(e));
  if (bad >= 0) return reject(`[${bad}] is not a JSON-RPC 2.0 message`);
  return accept(`an array of ${doc.length} JSON-RPC 2.0 messages`);
}

/**
 * Text of a CallToolResult: the text of its content blocks, then its structured content as JSON
 * on a line of its own. Both, because a client may hand either to the model: a value that occurs
 * only in `structuredContent` is still content the tool returned (provenance must see it).
 */
export function resultText(result: Record<string, unknown>): string {
  const blocks = contentText(result.content);
  if (result.structuredContent === undefined) return blocks;
  const structured = JSON.stringify(result.structuredContent) ?? "";
  return blocks === "" ? structured : `${blocks}\n${structured}`;
}

/** One log entry to import: the parsed entry and its address in the file. */
export interface McpEntry {
  entry: unknown;
  at: string;
}

/**
 * Imports an MCP log, one trace per file. Source: the Model Context Protocol specification,
 * revision 2025-06-18 (modelcontextprotocol.io/specification/2025-06-18): "Base Protocol"
 * (JSON-RPC 2.0 requests `{jsonrpc, id, method, params}`, responses `{jsonrpc, id, result |
 * error}`, notifications without `id`) and "Server Features / Tools" (`tools/call` with `params:
 * {name, arguments}`; `CallToolResult {content: [{type: "text", text} | image | audio |
 * resource_link | resource], structuredContent?, isError?}`).
 *
 * Accepted log shapes: JSON Lines with one entry per line, or a `.json` array of entries, where an
 * entry is a JSON-RPC message, a wrapper `{message, direction?, timestamp?, ...}` holding one (as
 * proxies and inspectors log them; the other keys are not needed and are ignored), or a batch
 * array. Requests are paired with responses by `id` whichever peer sent them, so a log recorded on
 * the client or the server side reads the same way.
 *
 * Events: each `tools/call` request is a call (`message_seq: null`: MCP carries no messages) at
 * the request's address; its response is a result at the response's address, with the content
 * blocks' text and `structuredContent` as JSON after it. `isError: true` or a JSON-RPC
 * `error` puts the error text in `error`. Notifications, other methods and their responses are
 * ignored; a response that looks like a tool result but answers no known request is kept as an
 * `orphan_result`.
 */
export function importMcpEntries(entries: Iterable<McpEntry>, caseId: string, file: string): Trace {
  const builder = new TraceBuilder();
  // Open requests by id: JSON of the id (so 1 and "1" differ, as JSON-RPC says) -> method.
  const open = new Map<string, { method: string; callId: string | null; tool: string }>();
  for (const { entry, at: entryAt } of entries) {
    const msgs = messagesOf(entry);
    if (!msgs) {
      builder.warnings.push(`skipped: ${entryAt} is not a JSON-RPC 2.0 message`);
      continue;
    }
    for (const { msg, at: rel } of msgs) {
      const at = `${entryAt}${rel}`;
      const hasId = msg.id !== undefined && msg.id !== null;
      if (typeof msg.method === "string") {
        if (!hasId) continue; // a notification: no result will answer it
        const key = JSON.stringify(msg.id);
        if (msg.method !== "tools/call") {
          open.set(key, { method: msg.method, callId: null, tool: "" });
          continue;
        }
        const params = isObject(msg.params) ? msg.params : {};
        const tool = typeof params.name === "string" ? params.name : "";
        const callId = idOf(msg.id);
        builder.toolCall(null, callId, tool, parseArguments(params.arguments, at, builder.warnings), at);
        open.set(key, { method: "tools/call", callId, tool });
        continue;
      }
      if (!("result" in msg) && !("error" in msg)) {
        builder.warnings.push(`skipped: ${at} is neither a request, a notification nor a response`);
        continue;
      }
      const key = hasId ? JSON.stringify(msg.id) : undefined;
      const request = key === undefined ? undefined : open.get(key);
      if (key !== undefined) open.delete(key);
      if (request && request.method !== "tools/call") continue;
      const result = isObject(msg.result) ? msg.result : undefined;
      if (!request && !(result && ("content" in result || "isError" in result))) {
        // The answer to a request this log does not hold; only a tool result's shape is kept.
        if ("error" in msg)
          builder.warnings.push(
            `skipped: ${at} is an error answering unknown request id ${JSON.stringify(msg.id)}`,
          );
        continue;
      }
      let content = "";
      let error: string | null = null;
      if (result) {
        content = resultText(result);
        if (result.isError === true) error = content;
      } else {
        const e = isObject(msg.error) ? msg.error : {};
        error = typeof e.message === "string" ? e.message : JSON.stringify(msg.error);
      }
      if (request) builder.toolResult(request.callId, request.tool, content, error, at);
      else {
        if (!hasId) builder.warnings.push(`orphan_result: ${at} answers no request (its id is null)`);
        builder.toolResult(idOf(msg.id), null, content, error, at);
      }
    }
  }
  return builder.build(caseId, "mcp", file);
}

/** MCP JSON-RPC logs given as one `.json` array of entries (`.jsonl` logs are read line by line). */
export const mcp: TraceFormat = {
  name: "mcp",
  detect: (doc) => inspectMcp(doc).ok,
  inspect: inspectMcp,
  import(doc, ctx): Trace[] {
    const entries = (doc as unknown[]).map((entry, i) => ({ entry, at: `${ctx.prefix}[${i}]` }));
    return [importMcpEntries(entries, ctx.caseId, ctx.file)];
  },
};
