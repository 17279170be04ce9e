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

/**
 * Text of one content block for the canonical trace (MCP 2025-06-18 "Server Features / Tools",
 * `ContentBlock`): a `text` block's text; an embedded `resource`'s `text`; a `resource_link` (all
 * text: uri, name, description) and unknown blocks as JSON. Binary data (`image` and `audio`
 * blocks' `data`, an embedded resource's `blob`) cannot be held as text: it is left out with a
 * warning naming its address, its MIME type and its size.
 */
function blockText(block: unknown, at: string, warnings: string[]): string | undefined {
  if (typeof block === "string") return block;
  if (!isObject(block)) return JSON.stringify(block);
  if (block.type === "text" && typeof block.text === "string") return block.text;
  const binary = (data: unknown, where: string, mime: unknown): undefined => {
    const size = typeof data === "string" ? `${data.length} base64 characters` : "no data";
    const type = typeof mime === "string" ? `${mime}, ` : "";
    warnings.push(`skipped: ${where} is binary data (${type}${size}) a trace cannot hold as text`);
    return undefined;
  };
  if (block.type === "image" || block.type === "audio")
    return binary(block.data, `${at}.data`, block.mimeType);
  if (block.type === "resource" && isObject(block.resource)) {
    const r = block.resource;
    if (typeof r.text === "string") return r.text;
    if (r.blob !== undefined) return binary(r.blob, `${at}.resource.blob`, r.mimeType);
  }
  return JSON.stringify(block);
}

/**
 * Text of a CallToolResult as imported: the text of its content blocks (blockText) joined with
 * newlines, then `structuredContent` as JSON on a line of its own (as resultText).
 */
function callResultText(result: Record<string, unknown>, at: string, warnings: string[]): string {
  const parts: string[] = [];
  if (Array.isArray(result.content)) {
    for (const [j, block] of result.content.entries()) {
      const text = blockText(block, `${at}.result.content[${j}]`, warnings);
      if (text !== undefined) parts.push(text);
    }
  } else if (result.content !== undefined) parts.push(contentText(result.content));
  if (result.structuredContent !== undefined) parts.push(JSON.stringify(result.structuredContent) ?? "");
  return parts.join("\n");
}

/**
 * Requests whose params are only protocol structure (versions, capabilities, cursors, URIs, log
 * levels): nothing to account for. Any other request but `tools/call` carrying params is named
 * in a warning (a prompt's arguments, a sampling request's messages, an elicitation's message...).
 */
const PLAIN_REQUESTS = new Set([
  "initialize",
  "ping",
  "tools/list",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "resources/subscribe",
  "resources/unsubscribe",
  "prompts/list",
  "logging/setLevel",
  "roots/list",
]);

/** What an answer to a method other than `tools/call` holds, for its warning. */
const ANSWERS: Record<string, { key: string; what: string }> = {
  "tools/list": { key: "tools", what: "declares tools (declarations are not events)" },
  "resources/list": { key: "resources", what: "lists resources (declarations are not events)" },
  "resources/templates/list": {
    key: "resourceTemplates",
    what: "lists resource templates (declarations are not events)",
  },
  "prompts/list": { key: "prompts", what: "lists prompts (declarations are not events)" },
  "resources/read": { key: "contents", what: "holds resource contents read outside a tool call" },
  "prompts/get": { key: "messages", what: "holds a prompt's messages fetched outside a conversation" },
};

/**
 * Warnings for a message this importer does not turn into events, when it carries content: the
 * server's `instructions` in the `initialize` answer, declarations and resource contents in the
 * answers of ANSWERS, the params of requests outside PLAIN_REQUESTS, and notifications carrying a
 * `message`, `data` or `reason` (log messages, progress messages, cancellations).
 */
function otherMessage(
  msg: Record<string, unknown>,
  method: string | undefined,
  at: string,
  warnings: string[],
): void {
  const params = isObject(msg.params) ? msg.params : undefined;
  if (typeof msg.method === "string") {
    if (!params || Object.keys(params).length === 0) return;
    if (msg.id === undefined || msg.id === null) {
      for (const key of ["message", "data", "reason"])
        if (params[key] !== undefined)
          warnings.push(
            `skipped: ${at}.params.${key} of notification ${msg.method} (notifications are not events)`,
          );
      return;
    }
    if (!PLAIN_REQUESTS.has(msg.method))
      warnings.push(`skipped: ${at}.params of request ${msg.method} (only tools/call becomes events)`);
    return;
  }
  const result = isObject(msg.result) ? msg.result : undefined;
  if (!result || method === undefined) return;
  if (method === "initialize") {
    if (typeof result.instructions === "string" && result.instructions !== "")
      warnings.push(
        `skipped: ${at}.result.instructions are the server's instructions to the client (not an event)`,
      );
    return;
  }
  const answer = Object.hasOwn(ANSWERS, method) ? ANSWERS[method] : undefined;
  if (answer) {
    if (result[answer.key] !== undefined) warnings.push(`skipped: ${at}.result.${answer.key} ${answer.what}`);
    return;
  }
  if (Object.keys(result).some((k) => k !== "_meta"))
    warnings.push(`skipped: ${at}.result answers ${method} (only tools/call becomes events)`);
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
 * resource_link | resource], structuredContent?, isError?}`), "Lifecycle" (`initialize` and the
 * server's `instructions`), "Server Features / Resources" and "/ Prompts" (`resources/read`
 * `contents`, `prompts/get` `messages`), "Utilities" (logging and progress notifications); the
 * same shapes as @modelcontextprotocol/sdk's `types` (`CallToolResultSchema`, `ContentBlockSchema`).
 *
 * Accepted log shapes: JSON Lines with one entry per line, or a `.json` array of entries, where an
 * entry is a JSON-RPC message, a wrapper `{message, direction?, timestamp?, ...}` holding one (as
 * proxies and inspectors log them; the other keys are not needed and are ignored), or a batch
 * array. Requests are paired with responses by `id` whichever peer sent them, so a log recorded on
 * the client or the server side reads the same way.
 *
 * Events: each `tools/call` request is a call (`message_seq: null`: MCP carries no messages) at
 * the request's address; its response is a result at the response's address: the text of its
 * content blocks (`text`; an embedded resource's `text`; a `resource_link` as JSON), then
 * `structuredContent` as JSON. Binary data (`image`/`audio` blocks, a resource `blob`) is left out
 * with a warning. `isError: true` or a JSON-RPC `error` puts the error text in `error`. A response
 * that looks like a tool result but answers no known request is kept as an `orphan_result`.
 * Nothing else becomes an event, and what carries content is named in a warning: the server's
 * `instructions`, tool/resource/prompt declarations, resource contents read with
 * `resources/read`, prompts fetched with `prompts/get`, the params of other requests (sampling,
 * elicitation, completion...) and their answers, and notifications' `message`, `data` or `reason`.
 * Protocol structure (versions, capabilities, client and server info, ids) is not content.
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
        if (msg.method !== "tools/call") otherMessage(msg, undefined, at, builder.warnings);
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
      if (request && request.method !== "tools/call") {
        otherMessage(msg, request.method, at, builder.warnings);
        if ("error" in msg)
          builder.warnings.push(
            `skipped: ${at}.error answers ${request.method} (only tools/call becomes events)`,
          );
        continue;
      }
      const result = isObject(msg.result) ? msg.result : undefined;
      if (!request && !(result && ("content" in result || "isError" in result))) {
        // The answer to a request this log does not hold; only a tool result's shape is kept.
        if ("error" in msg)
          builder.warnings.push(
            `skipped: ${at} is an error answering unknown request id ${JSON.stringify(msg.id)}`,
          );
        else if (result && Object.keys(result).some((k) => k !== "_meta"))
          builder.warnings.push(`skipped: ${at}.result answers unknown request id ${JSON.stringify(msg.id)}`);
        continue;
      }
      let content = "";
      let error: string | null = null;
      if (result) {
        content = callResultText(result, at, builder.warnings);
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
