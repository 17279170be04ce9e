import type { JsonValue } from "../../policy/ir.js";
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

/** Block types that only Anthropic Messages have: one of them (or a top-level `system`) marks the format. */
const MARKER_BLOCKS = new Set([
  "tool_use",
  "tool_result",
  "thinking",
  "redacted_thinking",
  "server_tool_use",
  "mcp_tool_use",
  "mcp_tool_result",
]);
/** Blocks of the model's private reasoning: neither said to the user nor a tool call. */
const REASONING_BLOCKS = new Set(["thinking", "redacted_thinking"]);
/** Blocks that call a tool: client tools, server tools (web search, code execution...), MCP connector. */
const CALL_BLOCKS = new Set(["tool_use", "server_tool_use", "mcp_tool_use"]);
/**
 * Top-level keys of a request body that are settings, not conversation: their strings (a model
 * name, a stop sequence, a user id) are never judged. Any other key but `messages` and `system`
 * (`tools`, `mcp_servers`, `tool_choice`, `container`...) is skipped with a warning.
 */
const SETTINGS = new Set([
  "model",
  "max_tokens",
  "temperature",
  "top_p",
  "top_k",
  "stream",
  "stop_sequences",
  "service_tier",
  "metadata",
  "thinking",
]);

/** Whether a block is a tool result: `tool_result`, `mcp_tool_result`, or a server tool's `*_tool_result`. */
function isResultBlock(b: unknown): b is Record<string, unknown> {
  return isObject(b) && typeof b.type === "string" && b.type.endsWith("tool_result");
}

/**
 * The error of a tool result block: its text when `is_error` is true, or the `error_code` of a
 * server tool's error object (`{type: "web_search_tool_result_error", error_code}`), else null.
 */
function resultError(b: Record<string, unknown>, text: string): string | null {
  if (b.is_error === true) return text;
  const c = b.content;
  if (isObject(c) && typeof c.error_code === "string" && String(c.type).endsWith("_error"))
    return c.error_code;
  return null;
}

/**
 * Why a value is not an Anthropic message list (null when it is one), and the marker it found.
 * Messages are `{role: "user"|"assistant", content: string | blocks}` with typed blocks.
 */
function listProblem(v: unknown): { problem: string | null; marker: string | null } {
  if (!Array.isArray(v) || v.length === 0)
    return { problem: `a message list must be a non-empty array, not ${shapeOf(v)}`, marker: null };
  let marker: string | null = null;
  for (const [i, m] of v.entries()) {
    if (!isObject(m)) return { problem: `[${i}] is ${shapeOf(m)}, not a message object`, marker };
    if (m.role !== "user" && m.role !== "assistant")
      return { problem: `[${i}].role ${JSON.stringify(m.role)} is neither "user" nor "assistant"`, marker };
    if ("tool_calls" in m || "type" in m)
      return {
        problem: `[${i}] has "${"type" in m ? "type" : "tool_calls"}", not an Anthropic message key`,
        marker,
      };
    if (typeof m.content === "string") continue;
    if (!Array.isArray(m.content))
      return { problem: `[${i}].content is ${shapeOf(m.content)}, not a string or blocks`, marker };
    for (const [j, b] of m.content.entries()) {
      if (!isObject(b) || typeof b.type !== "string")
        return { problem: `[${i}].content[${j}] is not a typed block`, marker };
      if (marker === null && MARKER_BLOCKS.has(b.type)) marker = `a ${b.type} block at [${i}].content[${j}]`;
    }
  }
  return { problem: null, marker };
}

/**
 * Anthropic Messages: a bare array of messages, or an object `{system?, messages}` (the request
 * body of `POST /v1/messages`). Plain text conversations are valid chat-completions too and are
 * left to `openai` (same events either way): this format needs a `tool_use`, `tool_result` or
 * `thinking` block, or a top-level `system`.
 */
function inspectAnthropic(doc: unknown): Detection {
  const list = Array.isArray(doc) ? doc : isObject(doc) ? doc.messages : undefined;
  if (list === undefined) return reject(`the document is ${shapeOf(doc)} without messages`);
  const where = Array.isArray(doc) ? "" : "messages: ";
  if (isObject(doc) && ("suite_name" in doc || "user_task_id" in doc))
    return reject("the object has AgentDojo run keys");
  const { problem, marker } = listProblem(list);
  if (problem) return reject(`${where}${problem}`);
  const system = isObject(doc) && "system" in doc ? doc.system : undefined;
  if (system !== undefined && typeof system !== "string" && !Array.isArray(system))
    return reject(`system is ${shapeOf(system)}, not a string or blocks`);
  if (system !== undefined)
    return accept(`an object with a top-level system and ${(list as unknown[]).length} messages`);
  if (marker) return accept(`${(list as unknown[]).length} user/assistant messages with ${marker}`);
  return reject("no tool_use, tool_result or thinking block and no top-level system: plain chat (openai)");
}

/**
 * Anthropic Messages. Source: the Messages API reference (docs.anthropic.com/en/api/messages), the
 * tool use guide (docs.anthropic.com/en/docs/build-with-claude/tool-use), the server tools' and
 * MCP connector's pages (docs.anthropic.com/en/docs/agents-and-tools/tool-use/web-search-tool,
 * .../mcp-connector), and the SDK's types (`@anthropic-ai/sdk` 1.14: `ContentBlock`,
 * `ContentBlockParam` in resources/messages, `BetaMCPToolUseBlock`, `BetaMCPToolResultBlock` in
 * resources/beta/messages). `{system?, messages, ...settings}` where `system` is a string or text
 * blocks, and each message is `{role: "user"|"assistant", content}` with `content` a string or
 * blocks: `{type: "text", text}`, `{type: "tool_use", id, name, input}` (input an object),
 * `{type: "tool_result", tool_use_id, content?, is_error?}` (content a string or text/image
 * blocks), `server_tool_use {id, name, input}` (`web_search`, `web_fetch`, `code_execution`, ...),
 * `web_search_tool_result`, `web_fetch_tool_result`, `code_execution_tool_result` and the other
 * `*_tool_result {tool_use_id, content}` server blocks, `mcp_tool_use {id, name, server_name,
 * input}`, `mcp_tool_result {tool_use_id, content, is_error}`, `thinking`/`redacted_thinking`,
 * `image`, `document`.
 *
 * Events: `system` becomes a system message at `system`. An assistant message becomes one message
 * (its text and other plain blocks) followed, in block order, by a call per `tool_use`,
 * `server_tool_use` or `mcp_tool_use` block (tool name: the block's `name`; an MCP connector
 * call's `server_name` goes to `meta.mcp_servers`, by call id) and a result per `*_tool_result`
 * block, at `messages[i].content[j]`: server tools run within the assistant's turn. In a user
 * message every `*_tool_result` block is a tool result at its block address, never the user's
 * words; the user's other blocks, if any, follow as one user message at `messages[i]`. A result's
 * text is its content's text (blocks without text as JSON); `is_error: true` puts it in `error`
 * too, and a server tool's error object puts its `error_code` there. Skipped with a warning:
 * reasoning blocks, and top-level keys other than `messages`, `system` and the request settings
 * (`tools` holds definitions, not conversation). Tolerated quirks: ids that are null, `input`
 * given as a JSON string, content null, results whose `tool_use_id` is unknown (`orphan_result`).
 */
export const anthropic: TraceFormat = {
  name: "anthropic",
  detect: (doc) => inspectAnthropic(doc).ok,
  inspect: inspectAnthropic,
  import(doc, ctx): Trace[] {
    const builder = new TraceBuilder();
    const dot = ctx.prefix ? "." : "";
    /** The MCP server of each connector call, by call id (else by address). */
    const servers: Record<string, JsonValue> = {};
    let list: unknown[];
    let base: string;
    if (Array.isArray(doc)) {
      list = doc;
      base = ctx.prefix;
    } else {
      const obj = doc as Record<string, unknown>;
      list = obj.messages as unknown[];
      base = `${ctx.prefix}${dot}messages`;
      if (obj.system !== undefined && obj.system !== null)
        builder.message("system", contentText(obj.system), `${ctx.prefix}${dot}system`);
      for (const key of Object.keys(obj)) {
        if (key === "messages" || key === "system" || SETTINGS.has(key)) continue;
        builder.warnings.push(
          key === "tools" || key === "mcp_servers"
            ? `skipped: ${ctx.prefix}${dot}${key} holds ${key === "tools" ? "tool definitions" : "MCP server definitions"}, not conversation`
            : `skipped: ${ctx.prefix}${dot}${key} is a request setting, not conversation`,
        );
      }
    }
    for (const [i, m] of list.entries()) {
      const at = `${base}[${i}]`;
      if (!isObject(m)) {
        builder.warnings.push(`skipped: ${at} is not a message object`);
        continue;
      }
      if (m.role !== "user" && m.role !== "assistant") {
        builder.warnings.push(`skipped: ${at} has unknown role ${JSON.stringify(m.role)}`);
        continue;
      }
      const blocks: unknown[] = Array.isArray(m.content) ? m.content : [];
      if (!Array.isArray(m.content)) {
        // A string (or null) content is plain text.
        builder.message(m.role, contentText(m.content), at);
        continue;
      }
      for (const [j, b] of blocks.entries())
        if (isObject(b) && REASONING_BLOCKS.has(b.type as string))
          builder.warnings.push(
            `skipped: ${at}.content[${j}] is a ${b.type} block: the model's reasoning, neither said nor a call`,
          );
      if (m.role === "assistant") {
        // Server tools and the MCP connector run on Anthropic's side: their calls and results
        // stand in the assistant's own content, in the order they happened.
        const said = blocks.filter(
          (b) =>
            !(
              isObject(b) &&
              (CALL_BLOCKS.has(b.type as string) ||
                REASONING_BLOCKS.has(b.type as string) ||
                isResultBlock(b))
            ),
        );
        const seq = builder.message("assistant", contentText(said), at);
        for (const [j, b] of blocks.entries()) {
          const blockAt = `${at}.content[${j}]`;
          if (isResultBlock(b)) {
            result(builder, b, blockAt);
            continue;
          }
          if (!isObject(b) || !CALL_BLOCKS.has(b.type as string)) continue;
          const name = typeof b.name === "string" ? b.name : "";
          const id = idOf(b.id);
          builder.toolCall(seq, id, name, parseArguments(b.input, blockAt, builder.warnings), blockAt);
          if (b.type === "mcp_tool_use" && typeof b.server_name === "string")
            servers[id ?? blockAt] = b.server_name;
        }
        continue;
      }
      const words: unknown[] = [];
      for (const [j, b] of blocks.entries()) {
        if (isResultBlock(b)) result(builder, b, `${at}.content[${j}]`);
        else if (!(isObject(b) && REASONING_BLOCKS.has(b.type as string))) words.push(b);
      }
      // A user turn that only returns tool results says nothing itself: no empty user message.
      if (words.length > 0 || blocks.length === 0) builder.message("user", contentText(words), at);
    }
    const meta: Record<string, JsonValue> = Object.keys(servers).length > 0 ? { mcp_servers: servers } : {};
    return [builder.build(ctx.caseId, "anthropic", ctx.file, meta)];
  },
};

/** Appends the tool result of a `*_tool_result` block (its content's text; see {@link resultError}). */
function result(builder: TraceBuilder, b: Record<string, unknown>, at: string): void {
  const text = contentText(b.content);
  builder.toolResult(idOf(b.tool_use_id), null, text, resultError(b, text), at);
}
