import { TraceBuilder } from "../builder.js";
import type { MessageRole, Trace } from "../model.js";
import {
  contentText,
  type ImportContext,
  idOf,
  isObject,
  parseArguments,
  type TraceFormat,
} from "./common.js";

/**
 * Imports an OpenAI chat-completions message list into a builder. Source: the Chat Completions
 * API reference (`messages[]` with `role`, `content`, `tool_calls[].function.{name, arguments}`
 * where `arguments` is a JSON string, and `{role: "tool", tool_call_id, content}`). `developer`
 * messages count as `system`; the legacy `function` role and `function_call` field are read too.
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
    const seq = builder.message(canonical, contentText(m.content), at);
    if (Array.isArray(m.tool_calls)) {
      for (const [j, tc] of m.tool_calls.entries()) {
        const callAt = `${at}.tool_calls[${j}]`;
        if (!isObject(tc)) continue;
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

function isMessageList(v: unknown): v is unknown[] {
  return Array.isArray(v) && v.length > 0 && v.every((m) => isObject(m) && typeof m.role === "string");
}

/** OpenAI chat-completions messages: a bare array, or an object with `messages`. */
export const openai: TraceFormat = {
  name: "openai",
  detect(doc) {
    return isMessageList(doc) || (isObject(doc) && isMessageList(doc.messages));
  },
  import(doc, ctx: ImportContext): Trace[] {
    const builder = new TraceBuilder();
    const list = Array.isArray(doc) ? doc : (doc as { messages: unknown[] }).messages;
    const base = Array.isArray(doc) ? ctx.prefix : `${ctx.prefix}${ctx.prefix ? "." : ""}messages`;
    importChatMessages(list, base, builder);
    return [builder.build(ctx.caseId, "openai", ctx.file)];
  },
};
