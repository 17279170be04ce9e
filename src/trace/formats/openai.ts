import { TraceBuilder } from "../builder.js";
import type { MessageRole, Trace } from "../model.js";
import {
  accept,
  asJson,
  contentText,
  type Detection,
  type ImportContext,
  idOf,
  isObject,
  parseArguments,
  reject,
  shapeOf,
  type TraceFormat,
} from "./common.js";

/**
 * What an assistant said: its content's text (a `refusal` part gives its refusal text), then its
 * `refusal` field on a line of its own. A refusal is what the user was told: never an empty message.
 */
function saidText(m: Record<string, unknown>): string {
  const content = Array.isArray(m.content)
    ? contentText(
        m.content.map((p) =>
          isObject(p) && p.type === "refusal" && typeof p.refusal === "string" ? p.refusal : p,
        ),
      )
    : contentText(m.content);
  if (typeof m.refusal !== "string" || m.refusal === "") return content;
  return content === "" ? m.refusal : `${content}\n${m.refusal}`;
}

/**
 * Imports an OpenAI chat-completions message list into a builder. Source: the Chat Completions
 * API reference (platform.openai.com/docs/api-reference/chat) and the SDK's types (`openai` 6:
 * `ChatCompletionMessageParam` in resources/chat/completions): `messages[]` with `role`,
 * `content` (a string or parts, `refusal` parts included), `refusal`, `tool_calls[]` either
 * `{type: "function", function: {name, arguments}}` (`arguments` a JSON string) or
 * `{type: "custom", custom: {name, input}}` (a custom tool: the arguments are the `input` string
 * as given), and `{role: "tool", tool_call_id, content}`. `developer` messages count as `system`;
 * the legacy `function` role and `function_call` field are read too.
 * @param messages the list; `base` is the address of the list (`messages`, `[3].traj`, ...).
 */
export function importChatMessages(messages: readonly unknown[], base: string, builder: TraceBuilder): void {
  for (const [i, m] of messages.entries()) {
    const at = `${base}[${i}]`;
    if (!isObject(m)) {
      builder.warnings.push(`skipped: ${at} is not a message object`);
      continue;
    }
    const role = m.role;
    if (role === "tool" || role === "function") {
      const callId = idOf(m.tool_call_id);
      const tool = typeof m.name === "string" ? m.name : null;
      builder.toolResult(callId, tool, contentText(m.content), null, at);
      continue;
    }
    const canonical: MessageRole | undefined =
      role === "user"
        ? "user"
        : role === "assistant"
          ? "assistant"
          : role === "system" || role === "developer"
            ? "system"
            : undefined;
    if (!canonical) {
      builder.warnings.push(`skipped: ${at} has unknown role ${JSON.stringify(role)}`);
      continue;
    }
    const seq = builder.message(canonical, saidText(m), at);
    if (Array.isArray(m.tool_calls)) {
      for (const [j, tc] of m.tool_calls.entries()) {
        const callAt = `${at}.tool_calls[${j}]`;
        if (!isObject(tc)) continue;
        if (tc.type === "custom" && isObject(tc.custom)) {
          const custom = tc.custom;
          const name = typeof custom.name === "string" ? custom.name : "";
          const args = typeof custom.input === "string" ? custom.input : asJson(custom.input);
          builder.toolCall(seq, idOf(tc.id), name, args, callAt);
          continue;
        }
        const fn = isObject(tc.function) ? tc.function : {};
        const name = typeof fn.name === "string" ? fn.name : "";
        builder.toolCall(
          seq,
          idOf(tc.id),
          name,
          parseArguments(fn.arguments, callAt, builder.warnings),
          callAt,
        );
      }
    } else if (isObject(m.function_call)) {
      const fn = m.function_call;
      const callAt = `${at}.function_call`;
      const name = typeof fn.name === "string" ? fn.name : "";
      builder.toolCall(seq, null, name, parseArguments(fn.arguments, callAt, builder.warnings), callAt);
    }
  }
}

/** Content part types of chat-completions messages; other APIs' blocks (tool_use, input_text) are not. */
const CHAT_PARTS = new Set(["text", "image_url", "input_audio", "file", "refusal"]);

/**
 * Why a value is not a chat-completions message list, or null when it is one. Checks each
 * message's shape, not just `role`, because Anthropic messages, Responses API items and AgentDojo
 * messages all have `role` too: `--format auto` must tell them apart.
 */
export function chatListProblem(v: unknown): string | null {
  if (!Array.isArray(v) || v.length === 0)
    return `a message list must be a non-empty array, not ${shapeOf(v)}`;
  for (const [i, m] of v.entries()) {
    if (!isObject(m)) return `[${i}] is ${shapeOf(m)}, not a message object`;
    if ("type" in m) return `[${i}] has a "type" key (${JSON.stringify(m.type)}): chat messages have none`;
    // Unknown roles are tolerated (skipped with a warning on import): recorders add their own.
    if (typeof m.role !== "string") return `[${i}] has no string "role"`;
    if (Array.isArray(m.content)) {
      for (const [j, b] of m.content.entries()) {
        if (!isObject(b) || typeof b.type !== "string" || !CHAT_PARTS.has(b.type))
          return `[${i}].content[${j}] is not a chat content part (type ${JSON.stringify(isObject(b) ? b.type : b)})`;
        if (b.type === "text" && typeof b.text !== "string")
          return `[${i}].content[${j}] is a text part without a "text" string`;
      }
    } else if (m.content !== undefined && m.content !== null && typeof m.content !== "string")
      return `[${i}].content is ${shapeOf(m.content)}`;
    if (m.tool_calls !== undefined && m.tool_calls !== null) {
      if (!Array.isArray(m.tool_calls)) return `[${i}].tool_calls is ${shapeOf(m.tool_calls)}`;
      for (const [j, tc] of m.tool_calls.entries())
        if (!isObject(tc) || !(isObject(tc.function) || (tc.type === "custom" && isObject(tc.custom))))
          return `[${i}].tool_calls[${j}] has neither a function {name, arguments} nor a custom {name, input}`;
    }
  }
  return null;
}

/**
 * Top-level keys of a chat-completions request body (`ChatCompletionCreateParams`) that are
 * settings, not conversation: their strings (a model name, a stop sequence, a user id) are never
 * judged. Any other key but `messages` (`tools`, `functions`, `prediction`...) is skipped with a
 * warning.
 */
const REQUEST_SETTINGS = new Set([
  "model",
  "temperature",
  "top_p",
  "n",
  "max_tokens",
  "max_completion_tokens",
  "stream",
  "stream_options",
  "stop",
  "seed",
  "user",
  "metadata",
  "store",
  "response_format",
  "tool_choice",
  "function_call",
  "parallel_tool_calls",
  "reasoning_effort",
  "service_tier",
  "logprobs",
  "top_logprobs",
  "logit_bias",
  "frequency_penalty",
  "presence_penalty",
  "modalities",
  "audio",
  "verbosity",
  "prompt_cache_key",
  "safety_identifier",
  "web_search_options",
]);

/** Top-level keys that mark another format's envelope around a `messages` list. */
const FOREIGN_ENVELOPE: Record<string, string> = {
  system: "a top-level system prompt (Anthropic Messages)",
  suite_name: "an AgentDojo run key",
  user_task_id: "an AgentDojo run key",
};

/** Why `doc` is (or is not) chat-completions messages: a bare array, or an object with `messages`. */
function inspectOpenai(doc: unknown): Detection {
  if (Array.isArray(doc)) {
    const problem = chatListProblem(doc);
    return problem ? reject(problem) : accept(`a bare array of ${doc.length} chat-completions messages`);
  }
  if (!isObject(doc)) return reject(`the document is ${shapeOf(doc)}`);
  if (!("messages" in doc)) return reject("neither a bare array nor an object with messages");
  for (const [k, why] of Object.entries(FOREIGN_ENVELOPE))
    if (k in doc) return reject(`the object has "${k}", ${why}`);
  const problem = chatListProblem(doc.messages);
  return problem
    ? reject(`messages: ${problem}`)
    : accept(`an object whose messages are ${(doc.messages as unknown[]).length} chat-completions messages`);
}

/**
 * OpenAI chat-completions messages (see {@link importChatMessages}): a bare array, or an object
 * with `messages` (a request body; its keys other than `messages` and the settings, such as
 * `tools`, are skipped with a warning). Every message is checked (a string role, content parts,
 * `tool_calls[]` function or custom calls), so a conversation of plain text messages, valid in
 * several APIs, is read here: every reading of it gives the same events.
 */
export const openai: TraceFormat = {
  name: "openai",
  detect: (doc) => inspectOpenai(doc).ok,
  inspect: inspectOpenai,
  import(doc, ctx: ImportContext): Trace[] {
    const builder = new TraceBuilder();
    const list = Array.isArray(doc) ? doc : (doc as { messages: unknown[] }).messages;
    const base = Array.isArray(doc) ? ctx.prefix : `${ctx.prefix}${ctx.prefix ? "." : ""}messages`;
    if (isObject(doc)) {
      const dot = ctx.prefix ? "." : "";
      for (const key of Object.keys(doc)) {
        if (key === "messages" || REQUEST_SETTINGS.has(key)) continue;
        builder.warnings.push(
          key === "tools" || key === "functions"
            ? `skipped: ${ctx.prefix}${dot}${key} holds tool definitions, not conversation`
            : `skipped: ${ctx.prefix}${dot}${key} is not conversation this importer reads`,
        );
      }
    }
    importChatMessages(list, base, builder);
    return [builder.build(ctx.caseId, "openai", ctx.file)];
  },
};
