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
]);
/** Blocks of the model's private reasoning: neither said to the user nor a tool call. */
const REASONING_BLOCKS = new Set(["thinking", "redacted_thinking"]);

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
 * Anthropic Messages. Source: the Messages API reference (docs.anthropic.com/en/api/messages) and
 * the tool use guide (docs.anthropic.com/en/docs/build-with-claude/tool-use): `{system?, messages}`
 * where `system` is a string or text blocks, and each message is `{role: "user"|"assistant",
 * content}` with `content` a string or blocks: `{type: "text", text}`, `{type: "tool_use", id,
 * name, input}` (input an object), `{type: "tool_result", tool_use_id, content?, is_error?}`
 * (content a string or text/image blocks), `thinking`/`redacted_thinking`, `image`, `document`.
 *
 * Events: `system` becomes a system message at `system`. An assistant message becomes one message
 * (its text blocks; reasoning blocks left out) followed by one call per `tool_use` block, at
 * `messages[i].content[j]`. In a user message every `tool_result` block is a tool result at its
 * block address, never the user's words; the user's other blocks, if any, follow as one user
 * message at `messages[i]`. `is_error: true` puts the result's text in `error` too. Tolerated
 * quirks: ids that are null, `input` given as a JSON string, content null, results whose
 * `tool_use_id` is unknown (`orphan_result`).
 */
export const anthropic: TraceFormat = {
  name: "anthropic",
  detect: (doc) => inspectAnthropic(doc).ok,
  inspect: inspectAnthropic,
  import(doc, ctx): Trace[] {
    const builder = new TraceBuilder();
    const dot = ctx.prefix ? "." : "";
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
      if (m.role === "assistant") {
        const said = blocks.filter(
          (b) => !(isObject(b) && (b.type === "tool_use" || REASONING_BLOCKS.has(b.type as string))),
        );
        const seq = builder.message("assistant", contentText(said), at);
        for (const [j, b] of blocks.entries()) {
          if (!isObject(b) || b.type !== "tool_use") continue;
          const callAt = `${at}.content[${j}]`;
          const name = typeof b.name === "string" ? b.name : "";
          builder.toolCall(seq, idOf(b.id), name, parseArguments(b.input, callAt, builder.warnings), callAt);
        }
        continue;
      }
      const words: unknown[] = [];
      for (const [j, b] of blocks.entries()) {
        if (!isObject(b) || b.type !== "tool_result") {
          words.push(b);
          continue;
        }
        const text = contentText(b.content);
        builder.toolResult(
          idOf(b.tool_use_id),
          null,
          text,
          b.is_error === true ? text : null,
          `${at}.content[${j}]`,
        );
      }
      // A user turn that only returns tool results says nothing itself: no empty user message.
      if (words.length > 0 || blocks.length === 0) builder.message("user", contentText(words), at);
    }
    return [builder.build(ctx.caseId, "anthropic", ctx.file)];
  },
};
