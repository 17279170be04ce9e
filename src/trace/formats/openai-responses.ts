import { TraceBuilder } from "../builder.js";
import type { MessageRole, Trace } from "../model.js";
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

/** Item types of the Responses API that this importer reads or knowingly skips. */
const ITEM_TYPES = new Set([
  "message",
  "function_call",
  "function_call_output",
  "custom_tool_call",
  "custom_tool_call_output",
  "reasoning",
  "item_reference",
  "web_search_call",
  "file_search_call",
  "computer_call",
  "computer_call_output",
  "code_interpreter_call",
  "image_generation_call",
  "local_shell_call",
  "local_shell_call_output",
  "mcp_call",
  "mcp_list_tools",
  "mcp_approval_request",
  "mcp_approval_response",
]);
/** Content part types only the Responses API uses: they mark untyped (easy input) messages as Responses. */
const RESPONSES_PARTS = new Set(["input_text", "output_text", "input_image", "input_file"]);
/** Items skipped without a warning: they hold no conversation text and no call of a function tool. */
const SILENT = new Set(["reasoning", "item_reference"]);

/** Why an item list is not Responses items (null when it is), and the marker it found. */
function itemsProblem(v: unknown, name: string): { problem: string | null; marker: string | null } {
  if (!Array.isArray(v)) return { problem: `${name} is ${shapeOf(v)}, not an item list`, marker: null };
  let marker: string | null = null;
  for (const [i, item] of v.entries()) {
    const at = `${name}[${i}]`;
    if (!isObject(item)) return { problem: `${at} is ${shapeOf(item)}, not an item`, marker };
    if (typeof item.type === "string") {
      if (!ITEM_TYPES.has(item.type))
        return { problem: `${at}.type ${JSON.stringify(item.type)} is not a Responses item type`, marker };
      marker ??= `a ${item.type} item at ${at}`;
      continue;
    }
    // An item without `type` is an "easy input message" {role, content}.
    if (typeof item.role !== "string") return { problem: `${at} has neither "type" nor "role"`, marker };
    if ("tool_calls" in item) return { problem: `${at} has tool_calls (chat completions)`, marker };
    if (Array.isArray(item.content))
      for (const [j, b] of item.content.entries())
        if (isObject(b) && RESPONSES_PARTS.has(b.type as string))
          marker ??= `an ${b.type} part at ${at}.content[${j}]`;
  }
  return { problem: null, marker };
}

/** The item lists of a document with their addresses: a bare array, or `input` then `output`. */
function lists(doc: unknown): { items: unknown[]; base: string }[] | string {
  if (Array.isArray(doc)) return [{ items: doc, base: "" }];
  if (!isObject(doc)) return `the document is ${shapeOf(doc)}`;
  const out: { items: unknown[]; base: string }[] = [];
  for (const key of ["input", "output"])
    if (Array.isArray(doc[key])) out.push({ items: doc[key] as unknown[], base: key });
  return out.length > 0 ? out : "neither a bare array nor an object with an input or output array";
}

function inspectResponses(doc: unknown): Detection {
  const found = lists(doc);
  if (typeof found === "string") return reject(found);
  let marker: string | null = isObject(doc) && doc.object === "response" ? 'object: "response"' : null;
  let items = 0;
  for (const { items: list, base } of found) {
    const r = itemsProblem(list, base);
    if (r.problem) return reject(r.problem);
    marker ??= r.marker;
    items += list.length;
  }
  if (items === 0 && marker === null) return reject("no items");
  const where = Array.isArray(doc)
    ? "a bare array"
    : `an object with ${found.map((f) => f.base).join(" and ")}`;
  return marker
    ? accept(`${where} of ${items} Responses items, with ${marker}`)
    : reject("no typed item and no input_text/output_text part: plain chat (openai)");
}

function roleOf(role: unknown): MessageRole | undefined {
  if (role === "user" || role === "assistant" || role === "system") return role;
  return role === "developer" ? "system" : undefined;
}

/** Text of Responses content: a string, or parts whose text is `text` (or `refusal`). */
function partsText(content: unknown): string {
  if (!Array.isArray(content)) return contentText(content);
  return contentText(
    content.map((p) =>
      isObject(p) && typeof p.text !== "string" && typeof p.refusal === "string" ? p.refusal : p,
    ),
  );
}

/**
 * OpenAI Responses API items. Source: the Responses API reference
 * (platform.openai.com/docs/api-reference/responses: the `input` item list of "Create a model
 * response" and the `output` of the Response object) and the function calling guide
 * (platform.openai.com/docs/guides/function-calling). Accepted documents: a bare array of items;
 * or an object with an `input` item array and/or an `output` item array (a request body, a
 * Response object with `object: "response"`, or a recorded pair: `input` is read before
 * `output`); a top-level `instructions` string is the system prompt.
 *
 * Items: `{type: "message", role, content}` (content a string or parts `{type: "input_text" |
 * "output_text", text}`; untyped `{role, content}` easy input messages too; `developer` counts as
 * `system`); `{type: "function_call", call_id, name, arguments}` (arguments a JSON string, or an
 * object); `{type: "function_call_output", call_id, output}` (output a string or parts);
 * `custom_tool_call {call_id, name, input}` / `custom_tool_call_output` likewise (input kept as
 * the string). `reasoning` and `item_reference` items are skipped silently; other built-in tool
 * items with a warning.
 *
 * Function calls are items, not parts of a message, but canonical calls belong to an assistant
 * message: a call joins the assistant message of its turn (since the last user message or tool
 * output), and a turn without one gets an empty assistant message at its first call's address, as
 * chat completions record it. Parallel calls therefore share one message, and the same
 * conversation gives the same trace id in `openai` and `openai-responses`.
 */
export const openaiResponses: TraceFormat = {
  name: "openai-responses",
  detect: (doc) => inspectResponses(doc).ok,
  inspect: inspectResponses,
  import(doc, ctx): Trace[] {
    const builder = new TraceBuilder();
    const dot = ctx.prefix ? "." : "";
    if (isObject(doc) && typeof doc.instructions === "string" && doc.instructions !== "")
      builder.message("system", doc.instructions, `${ctx.prefix}${dot}instructions`);
    let turn: number | null = null;
    for (const { items, base } of lists(doc) as { items: unknown[]; base: string }[]) {
      const listAt = base === "" ? ctx.prefix : `${ctx.prefix}${dot}${base}`;
      for (const [i, item] of items.entries()) {
        const at = `${listAt}[${i}]`;
        if (!isObject(item)) {
          builder.warnings.push(`skipped: ${at} is not an item object`);
          continue;
        }
        const type = item.type ?? "message";
        if (type === "message") {
          const role = roleOf(item.role);
          if (!role) {
            builder.warnings.push(`skipped: ${at} has unknown role ${JSON.stringify(item.role)}`);
            continue;
          }
          const seq = builder.message(role, partsText(item.content), at);
          turn = role === "assistant" ? seq : null;
        } else if (type === "function_call" || type === "custom_tool_call") {
          turn ??= builder.message("assistant", "", at);
          const name = typeof item.name === "string" ? item.name : "";
          const args =
            type === "function_call"
              ? parseArguments(item.arguments, at, builder.warnings)
              : typeof item.input === "string"
                ? item.input
                : parseArguments(item.input, at, builder.warnings);
          builder.toolCall(turn, idOf(item.call_id), name, args, at);
        } else if (type === "function_call_output" || type === "custom_tool_call_output") {
          builder.toolResult(idOf(item.call_id), null, partsText(item.output), null, at);
          turn = null;
        } else if (!SILENT.has(type as string)) {
          builder.warnings.push(`skipped: ${at} is a ${JSON.stringify(type)} item`);
        }
      }
    }
    return [builder.build(ctx.caseId, "openai-responses", ctx.file)];
  },
};
