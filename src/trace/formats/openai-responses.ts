import type { JsonValue } from "../../policy/ir.js";
import { TraceBuilder } from "../builder.js";
import type { MessageRole, Trace } from "../model.js";
import {
  accept,
  asJson,
  contentText,
  type Detection,
  idOf,
  isObject,
  parseArguments,
  reject,
  shapeOf,
  type TraceFormat,
} from "./common.js";

/**
 * Item types of the Responses API (`ResponseInputItem`, `ResponseOutputItem` and `ResponseItem` of
 * the `openai` 6 SDK, resources/responses/responses.d.ts): an item of any other type is not this format.
 */
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
  "shell_call",
  "shell_call_output",
  "apply_patch_call",
  "apply_patch_call_output",
  "tool_search_call",
  "tool_search_output",
  "program",
  "program_output",
  "mcp_call",
  "mcp_list_tools",
  "mcp_approval_request",
  "mcp_approval_response",
  "additional_tools",
  "compaction",
  "compaction_trigger",
]);
/** Content part types only the Responses API uses: they mark untyped (easy input) messages as Responses. */
const RESPONSES_PARTS = new Set(["input_text", "output_text", "input_image", "input_file"]);
/**
 * Top-level keys of a request body or Response object that are settings or bookkeeping, not
 * conversation (`output_text` is the SDK's copy of the output's text). Any other key but `input`,
 * `output` and `instructions` (`tools`, `prompt`, `error`...) is skipped with a warning.
 */
const SETTINGS = new Set([
  "id",
  "object",
  "created_at",
  "completed_at",
  "status",
  "model",
  "output_text",
  "incomplete_details",
  "metadata",
  "parallel_tool_calls",
  "temperature",
  "top_p",
  "top_logprobs",
  "tool_choice",
  "max_output_tokens",
  "max_tool_calls",
  "background",
  "conversation",
  "previous_response_id",
  "prompt_cache_key",
  "prompt_cache_options",
  "prompt_cache_retention",
  "reasoning",
  "safety_identifier",
  "service_tier",
  "store",
  "stream",
  "text",
  "truncation",
  "usage",
  "user",
  "include",
  "moderation",
]);

/**
 * Hosted tools: the canonical tool name of each call item whose name is its type, and where its
 * arguments stand (`action`, `operation`...). `mcp_call`, `mcp_approval_request` and the
 * function and custom tool calls carry their own `name`.
 */
const HOSTED: Record<string, { tool: string; args: (item: Record<string, unknown>) => unknown }> = {
  web_search_call: {
    tool: "web_search",
    args: (item) => {
      if (!isObject(item.action)) return {};
      const { sources: _sources, ...action } = item.action;
      return action;
    },
  },
  file_search_call: { tool: "file_search", args: (item) => ({ queries: item.queries ?? [] }) },
  code_interpreter_call: { tool: "code_interpreter", args: (item) => ({ code: item.code ?? null }) },
  computer_call: {
    tool: "computer",
    args: (item) => (item.action !== undefined ? item.action : { actions: item.actions ?? [] }),
  },
  image_generation_call: { tool: "image_generation", args: () => ({}) },
  local_shell_call: { tool: "local_shell", args: (item) => item.action ?? {} },
  shell_call: { tool: "shell", args: (item) => item.action ?? {} },
  apply_patch_call: { tool: "apply_patch", args: (item) => item.operation ?? {} },
  tool_search_call: { tool: "tool_search", args: (item) => item.arguments ?? {} },
  program: { tool: "program", args: (item) => ({ code: item.code ?? null }) },
};

/** Output items that answer an earlier call item by `call_id`, and the key of their output. */
const OUTPUTS: Record<string, string> = {
  function_call_output: "output",
  custom_tool_call_output: "output",
  computer_call_output: "output",
  local_shell_call_output: "output",
  shell_call_output: "output",
  apply_patch_call_output: "output",
  program_output: "result",
};

/**
 * Text of a hosted tool's output: a string as is; a list item by item, each its `text`, `logs`
 * (code interpreter), `stdout` then `stderr` (shell), else its JSON; an object as its JSON.
 */
function outputText(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (!Array.isArray(v)) return isObject(v) && typeof v.text === "string" ? v.text : JSON.stringify(v);
  return v
    .map((x) => {
      if (typeof x === "string") return x;
      if (!isObject(x)) return JSON.stringify(x);
      for (const k of ["text", "logs", "refusal"]) if (typeof x[k] === "string") return x[k] as string;
      if (typeof x.stdout === "string" || typeof x.stderr === "string")
        return [x.stdout, x.stderr].filter((t) => typeof t === "string" && t !== "").join("\n");
      return JSON.stringify(x);
    })
    .join("\n");
}

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
 * Items (types from the `openai` 6 SDK, resources/responses/responses.d.ts): `{type: "message",
 * role, content}` (content a string or parts `{type: "input_text" | "output_text", text}` or
 * `refusal` parts; untyped `{role, content}` easy input messages too; `developer` counts as
 * `system`); `{type: "function_call", call_id, name, arguments}` (arguments a JSON string, or an
 * object); `{type: "function_call_output", call_id, output}` (output a string or parts);
 * `custom_tool_call {call_id, name, input}` / `custom_tool_call_output` likewise (input kept as
 * the string).
 *
 * Hosted tools are calls too, judged like any other, with results as untrusted content: an
 * `mcp_call` is a call of its `name` (arguments parsed, `server_label` in `meta.mcp_servers` by
 * call id) answered by its `output` (or `error`); an `mcp_approval_request` is that call already
 * (its `mcp_call`, naming it by `approval_request_id`, then only adds the result). The others are
 * named by type: `web_search_call` is `web_search` (args: its `action` but `sources`, which are
 * the result), `file_search_call` is `file_search` ({queries}; result: its `results`),
 * `code_interpreter_call` is `code_interpreter` ({code}; result: its `outputs`), `computer_call`
 * is `computer` (its `action`), `image_generation_call` is `image_generation` (the image is an
 * empty result, with a warning), `local_shell_call` is `local_shell`, `shell_call` is `shell`
 * (their `action`), `apply_patch_call` is `apply_patch` (its `operation`), `tool_search_call` is
 * `tool_search` (its `arguments`), `program` is `program` ({code}); their separate output items
 * (`computer_call_output`, `local_shell_call_output`, `shell_call_output`,
 * `apply_patch_call_output`, `program_output`) are results by `call_id`. Skipped with a warning
 * naming the address: `reasoning` and `compaction` items, tool definitions (`tools`,
 * `mcp_list_tools`, `additional_tools`, `tool_search_output`), `mcp_approval_response`, citations
 * (`annotations`), and any top-level key that is neither an item list nor a setting.
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
    /** The MCP server of each MCP call, by call id. */
    const servers: Record<string, JsonValue> = {};
    /** Call ids of MCP approval requests already made calls: their `mcp_call` is the same call. */
    const approvals = new Set<string>();
    /** The `call_id` of each call item by its item `id` (a local shell output names the item). */
    const callIdOf = new Map<string, string>();
    if (isObject(doc)) {
      if (typeof doc.instructions === "string" && doc.instructions !== "")
        builder.message("system", doc.instructions, `${ctx.prefix}${dot}instructions`);
      for (const key of Object.keys(doc)) {
        if (key === "input" || key === "output" || SETTINGS.has(key)) continue;
        if (key === "instructions" && (typeof doc.instructions === "string" || doc.instructions === null))
          continue;
        builder.warnings.push(
          key === "tools"
            ? `skipped: ${ctx.prefix}${dot}tools holds tool definitions, not conversation`
            : key === "instructions"
              ? `skipped: ${ctx.prefix}${dot}instructions is not a string; only string instructions are read`
              : `skipped: ${ctx.prefix}${dot}${key} is neither an item list nor a setting`,
        );
      }
    }
    let turn: number | null = null;
    const warn = (at: string, why: string): void => {
      builder.warnings.push(`skipped: ${at} ${why}`);
    };
    /** A call of the assistant's current turn (an empty assistant message opens one if needed). */
    const call = (id: string | null, name: string, args: JsonValue, at: string): void => {
      turn ??= builder.message("assistant", "", at);
      builder.toolCall(turn, id, name, args, at);
    };
    for (const { items, base } of lists(doc) as { items: unknown[]; base: string }[]) {
      const listAt = base === "" ? ctx.prefix : `${ctx.prefix}${dot}${base}`;
      for (const [i, item] of items.entries()) {
        const at = `${listAt}[${i}]`;
        if (!isObject(item)) {
          warn(at, "is not an item object");
          continue;
        }
        const type = (item.type ?? "message") as string;
        const itemId = idOf(item.id);
        const callId = idOf(item.call_id) ?? itemId;
        if (itemId !== null && typeof item.call_id === "string" && !(type in OUTPUTS))
          callIdOf.set(itemId, item.call_id);
        if (type === "message") {
          const role = roleOf(item.role);
          if (!role) {
            warn(at, `has unknown role ${JSON.stringify(item.role)}`);
            continue;
          }
          const seq = builder.message(role, partsText(item.content), at);
          turn = role === "assistant" ? seq : null;
          if (Array.isArray(item.content))
            for (const [j, part] of item.content.entries())
              if (isObject(part) && Array.isArray(part.annotations) && part.annotations.length > 0)
                warn(`${at}.content[${j}].annotations`, "are citations of sources, not said text");
        } else if (type === "function_call" || type === "custom_tool_call") {
          const name = typeof item.name === "string" ? item.name : "";
          const args =
            type === "function_call"
              ? parseArguments(item.arguments, at, builder.warnings)
              : typeof item.input === "string"
                ? item.input
                : parseArguments(item.input, at, builder.warnings);
          call(idOf(item.call_id), name, args, at);
        } else if (type === "mcp_call" || type === "mcp_approval_request") {
          const name = typeof item.name === "string" ? item.name : "";
          const approved = idOf(item.approval_request_id);
          const id = approved !== null && approvals.has(approved) ? approved : itemId;
          if (typeof item.server_label === "string" && id !== null) servers[id] = item.server_label;
          if (id === null || id === itemId)
            call(id, name, parseArguments(item.arguments, at, builder.warnings), at);
          if (type === "mcp_approval_request") {
            if (itemId !== null) approvals.add(itemId);
            continue;
          }
          const error = typeof item.error === "string" && item.error !== "" ? item.error : null;
          if (typeof item.output === "string" || error !== null)
            builder.toolResult(
              id,
              null,
              typeof item.output === "string" ? item.output : (error ?? ""),
              error,
              `${at}.${typeof item.output === "string" ? "output" : "error"}`,
            );
        } else if (type in HOSTED) {
          const hosted = HOSTED[type] as (typeof HOSTED)[string];
          call(callId, hosted.tool, asJson(hosted.args(item)), at);
          hostedResult(item, type, callId, at);
        } else if (type in OUTPUTS) {
          const key = OUTPUTS[type] as string;
          const raw = idOf(item.call_id) ?? (itemId === null ? null : (callIdOf.get(itemId) ?? itemId));
          const content =
            type === "function_call_output" || type === "custom_tool_call_output"
              ? partsText(item[key])
              : outputText(item[key]);
          const failed = item.status === "failed";
          builder.toolResult(raw, null, content, failed ? content || String(item.status) : null, at);
          if (
            type === "computer_call_output" &&
            Array.isArray(item.acknowledged_safety_checks) &&
            item.acknowledged_safety_checks.length > 0
          )
            warn(
              `${at}.acknowledged_safety_checks`,
              "are safety checks the user acknowledged, not conversation",
            );
          turn = null;
        } else if (type === "reasoning") {
          warn(at, "is a reasoning item: the model's reasoning, neither said nor a call");
        } else if (
          type === "mcp_list_tools" ||
          type === "additional_tools" ||
          type === "tool_search_output"
        ) {
          warn(at, `holds tool definitions (${type}), not conversation`);
        } else if (type === "mcp_approval_response") {
          warn(
            at,
            `is an mcp_approval_response (approve: ${JSON.stringify(item.approve)}), not a call or a result`,
          );
        } else if (type === "compaction") {
          warn(at, "is a compaction item: earlier turns, encrypted");
        } else if (type !== "item_reference" && type !== "compaction_trigger") {
          // item_reference and compaction_trigger hold an id or nothing: no content to lose.
          warn(at, `is a ${JSON.stringify(type)} item`);
        }
      }
    }
    const meta: Record<string, JsonValue> = Object.keys(servers).length > 0 ? { mcp_servers: servers } : {};
    return [builder.build(ctx.caseId, "openai-responses", ctx.file, meta)];

    /** The result a hosted call item holds itself (web search sources, code output, file hits...). */
    function hostedResult(item: Record<string, unknown>, type: string, id: string | null, at: string): void {
      if (type === "web_search_call") {
        const sources = isObject(item.action) ? item.action.sources : undefined;
        if (Array.isArray(sources) && sources.length > 0)
          builder.toolResult(
            id,
            null,
            outputText(sources.map((x) => (isObject(x) && typeof x.url === "string" ? x.url : x))),
            null,
            `${at}.action.sources`,
          );
      } else if (type === "file_search_call") {
        if (Array.isArray(item.results))
          builder.toolResult(
            id,
            null,
            outputText(
              item.results.map((r) =>
                isObject(r) ? [r.filename, r.text].filter((t) => typeof t === "string").join("\n") : r,
              ),
            ),
            null,
            `${at}.results`,
          );
      } else if (type === "code_interpreter_call") {
        if (Array.isArray(item.outputs))
          builder.toolResult(
            id,
            null,
            outputText(item.outputs.map((o) => (isObject(o) && typeof o.url === "string" ? o.url : o))),
            null,
            `${at}.outputs`,
          );
      } else if (type === "image_generation_call") {
        if (typeof item.result === "string" && item.result !== "") {
          builder.toolResult(id, null, "", null, `${at}.result`);
          warn(`${at}.result`, "is a base64 image: kept as an empty result");
        }
      } else if (type === "computer_call") {
        if (Array.isArray(item.pending_safety_checks) && item.pending_safety_checks.length > 0)
          warn(`${at}.pending_safety_checks`, "are the API's safety checks, not conversation");
      }
      if (type === "program" && typeof item.fingerprint === "string")
        warn(`${at}.fingerprint`, "is an opaque replay fingerprint");
      if (typeof item.error === "string" && item.error !== "")
        warn(`${at}.error`, "is the hosted tool's error");
    }
  },
};
