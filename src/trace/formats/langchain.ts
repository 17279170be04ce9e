import type { JsonValue } from "../../policy/ir.js";
import { TraceBuilder } from "../builder.js";
import type { Trace } from "../model.js";
import {
  contentText,
  type ImportContext,
  idOf,
  isObject,
  parseArguments,
  type TraceFormat,
} from "./common.js";
import { ConversationAssembler, type RecordedMessage } from "./conversation.js";

type Obj = Record<string, unknown>;

/** `base.key`, or `key` at the top of a document. */
function join(base: string, key: string): string {
  return base === "" ? key : `${base}.${key}`;
}

function isRun(v: unknown): v is Obj {
  return isObject(v) && typeof v.run_type === "string" && ("inputs" in v || "child_runs" in v);
}

/** Roles of LangChain message classes (`id` of a serialised message) and `type` names. */
const ROLES: Record<string, RecordedMessage["role"]> = {
  HumanMessage: "user",
  HumanMessageChunk: "user",
  human: "user",
  user: "user",
  AIMessage: "assistant",
  AIMessageChunk: "assistant",
  ai: "assistant",
  assistant: "assistant",
  SystemMessage: "system",
  SystemMessageChunk: "system",
  system: "system",
  developer: "system",
  ToolMessage: "tool",
  ToolMessageChunk: "tool",
  FunctionMessage: "tool",
  tool: "tool",
  function: "tool",
};

/**
 * One LangChain message in any of its recorded shapes: serialised (`{lc: 1, type: "constructor",
 * id: [..., "AIMessage"], kwargs: {...}}`), `messages_to_dict` (`{type: "ai", data: {...}}`),
 * LangSmith's (`{type: "ai", content, ...}`) or OpenAI-like (`{role, content}`). Calls come from
 * `tool_calls` (`{name, args, id}`), else OpenAI-style `additional_kwargs.tool_calls`.
 */
function message(m: unknown, at: string, warnings: string[]): RecordedMessage | undefined {
  if (typeof m === "string") return { role: "user", text: m, calls: [], results: [], at };
  if (!isObject(m)) {
    warnings.push(`skipped: ${at} is not a message`);
    return undefined;
  }
  let fields: Obj = m;
  let fieldsAt = at;
  let kind: unknown = m.role ?? m.type;
  if (m.lc !== undefined && Array.isArray(m.id) && isObject(m.kwargs)) {
    fields = m.kwargs;
    fieldsAt = `${at}.kwargs`;
    kind = m.id.at(-1);
  } else if (isObject(m.data) && typeof m.type === "string") {
    fields = m.data;
    fieldsAt = `${at}.data`;
  }
  if (kind === "chat" || kind === "ChatMessage") kind = fields.role;
  // Own keys only: `type: "constructor"` must not find Object's constructor (fuzzing found it).
  const role = typeof kind === "string" && Object.hasOwn(ROLES, kind) ? ROLES[kind] : undefined;
  if (!role) {
    warnings.push(`skipped: ${at} has unknown message type ${JSON.stringify(kind)}`);
    return undefined;
  }
  const text = contentText(fields.content);
  if (role === "tool") {
    const error = fields.status === "error" ? text : null;
    const name = typeof fields.name === "string" ? fields.name : null;
    return {
      role,
      text: "",
      calls: [],
      results: [{ id: idOf(fields.tool_call_id), name, content: text, error, at }],
      at,
    };
  }
  const out: RecordedMessage = { role, text, calls: [], results: [], at };
  if (Array.isArray(fields.tool_calls) && fields.tool_calls.length > 0) {
    for (const [j, tc] of fields.tool_calls.entries()) {
      if (!isObject(tc)) continue;
      const cAt = `${fieldsAt}.tool_calls[${j}]`;
      out.calls.push({
        id: idOf(tc.id),
        name: typeof tc.name === "string" ? tc.name : "",
        args: parseArguments(tc.args, cAt, warnings),
        at: cAt,
      });
    }
  } else if (isObject(fields.additional_kwargs) && Array.isArray(fields.additional_kwargs.tool_calls)) {
    for (const [j, tc] of fields.additional_kwargs.tool_calls.entries()) {
      if (!isObject(tc)) continue;
      const cAt = `${fieldsAt}.additional_kwargs.tool_calls[${j}]`;
      const fn = isObject(tc.function) ? tc.function : {};
      out.calls.push({
        id: idOf(tc.id),
        name: typeof fn.name === "string" ? fn.name : "",
        args: parseArguments(fn.arguments, cAt, warnings),
        at: cAt,
      });
    }
  }
  return out;
}

/** The messages of a list that may be batched (`[[...]]`, the first batch is taken). */
function messageList(list: unknown, at: string, warnings: string[]): RecordedMessage[] {
  if (!Array.isArray(list)) return [];
  let items = list;
  let base = at;
  if (Array.isArray(list[0])) {
    items = list[0];
    base = `${at}[0]`;
  }
  const out: RecordedMessage[] = [];
  for (const [i, m] of items.entries()) {
    const r = message(m, `${base}[${i}]`, warnings);
    if (r) out.push(r);
  }
  return out;
}

/** An `llm` run: `inputs.messages` (chat models) or `inputs.prompts`; `outputs.generations`. */
function llmRun(
  run: Obj,
  at: string,
  warnings: string[],
): { input: RecordedMessage[]; output: RecordedMessage[] } {
  const inputs = isObject(run.inputs) ? run.inputs : {};
  const input = Array.isArray(inputs.messages)
    ? messageList(inputs.messages, join(at, "inputs.messages"), warnings)
    : messageList(inputs.prompts, join(at, "inputs.prompts"), warnings);
  const output: RecordedMessage[] = [];
  const outputs = isObject(run.outputs) ? run.outputs : {};
  if (Array.isArray(outputs.generations)) {
    let gens = outputs.generations;
    let base = join(at, "outputs.generations");
    if (Array.isArray(gens[0])) {
      gens = gens[0];
      base = `${base}[0]`;
    }
    for (const [j, g] of gens.entries()) {
      const gAt = `${base}[${j}]`;
      if (!isObject(g)) continue;
      const m = g.message !== undefined ? message(g.message, `${gAt}.message`, warnings) : undefined;
      if (m) output.push(m);
      else if (typeof g.text === "string")
        output.push({ role: "assistant", text: g.text, calls: [], results: [], at: gAt });
    }
  }
  return { input, output };
}

/**
 * A `tool` run's arguments: `inputs` is the arguments object in current LangChain, or
 * `{input: "..."}` holding the tool's input string. A JSON object string is read as the
 * arguments; anything else (older tracers wrote Python's `str(dict)`) stays `{input}` as recorded.
 */
function toolArgs(inputs: unknown): JsonValue {
  if (!isObject(inputs)) return {};
  if (Object.keys(inputs).length === 1 && typeof inputs.input === "string") {
    try {
      const parsed: unknown = JSON.parse(inputs.input);
      if (isObject(parsed)) return parsed as JsonValue;
    } catch {
      // Not JSON: kept as recorded.
    }
  }
  return inputs as JsonValue;
}

/** A `tool` run's output: a string, a serialised `ToolMessage` (with `tool_call_id`), or other JSON. */
function toolOutput(run: Obj): { content: string; id: string | null; error: string | null } {
  const error = typeof run.error === "string" && run.error !== "" ? run.error : null;
  const outputs = isObject(run.outputs) ? run.outputs : {};
  const out = outputs.output;
  if (out === undefined || out === null) return { content: "", id: null, error };
  if (typeof out === "string") return { content: out, id: null, error };
  const m = message(out, "", []);
  const r = m?.results[0];
  if (r) return { content: r.content, id: r.id, error: error ?? r.error };
  return { content: JSON.stringify(out), id: null, error };
}

/** Every run of a tree or list, with its address, deduplicated by `id` (flat exports repeat children). */
function collect(doc: unknown, prefix: string): { run: Obj; at: string; order: number }[] {
  const out: { run: Obj; at: string; order: number }[] = [];
  const seen = new Set<string>();
  const visit = (run: unknown, at: string, depth: number): void => {
    if (!isRun(run) || depth > 256) return;
    const id = typeof run.id === "string" ? run.id : undefined;
    if (id !== undefined) {
      if (seen.has(id)) return;
      seen.add(id);
    }
    out.push({ run, at, order: out.length });
    if (Array.isArray(run.child_runs))
      for (const [i, c] of run.child_runs.entries()) visit(c, join(at, `child_runs[${i}]`), depth + 1);
  };
  if (Array.isArray(doc)) for (const [i, r] of doc.entries()) visit(r, `${prefix}[${i}]`, 0);
  else visit(doc, prefix, 0);
  return out;
}

/**
 * LangChain / LangSmith run trees. Sources: the LangSmith `Run` schema (langchain-ai/langsmith-sdk,
 * `python/langsmith/schemas.py`: `id`, `name`, `run_type` (`llm`, `chain`, `tool`, `retriever`,
 * ...), `inputs`, `outputs`, `error`, `child_runs`, `parent_run_id`, `dotted_order`), and
 * langchain-core's tracer (`langchain_core/tracers/base.py`, `schemas.py`): chat-model runs record
 * `inputs.messages` as batches of serialised messages and `outputs.generations[][].message`;
 * tool runs record their arguments in `inputs` (or `{input: string}`) and `outputs.output`.
 * A root run with nested `child_runs`, or a flat array of runs, is one trace. Runs are flattened
 * in execution order: by `dotted_order` (start time and id of every ancestor, so a parent sorts
 * before its children) when every run has one, else by `start_time`, else tree order. `llm` runs
 * make the conversation, `tool` runs answer its calls; `chain` and other runs only group them.
 */
export const langchain: TraceFormat = {
  name: "langchain",
  detect(doc) {
    return isRun(doc) || (Array.isArray(doc) && doc.length > 0 && doc.every(isRun));
  },
  import(doc, ctx: ImportContext): Trace[] {
    const builder = new TraceBuilder();
    const runs = collect(doc, ctx.prefix);
    const key = runs.every((r) => typeof r.run.dotted_order === "string")
      ? "dotted_order"
      : runs.every((r) => typeof r.run.start_time === "string")
        ? "start_time"
        : undefined;
    if (key) {
      runs.sort((a, b) => {
        const x = a.run[key] as string;
        const y = b.run[key] as string;
        return x < y ? -1 : x > y ? 1 : a.order - b.order;
      });
    }
    const conversation = new ConversationAssembler(builder);
    for (const { run, at } of runs) {
      if (run.run_type === "llm") {
        const { input, output } = llmRun(run, at, builder.warnings);
        conversation.inference(input, output);
      } else if (run.run_type === "tool") {
        const out = toolOutput(run);
        conversation.execution(
          out.id,
          typeof run.name === "string" ? run.name : "",
          toolArgs(run.inputs),
          out,
          isObject(run.inputs) ? join(at, "inputs") : at,
          isObject(run.outputs) ? join(at, "outputs") : at,
        );
      }
    }
    const root = runs.find((r) => r.run.parent_run_id === null || r.run.parent_run_id === undefined)?.run;
    const meta: Record<string, JsonValue> = {};
    if (root && typeof root.name === "string") meta.run_name = root.name;
    if (root && typeof root.trace_id === "string") meta.langsmith_trace_id = root.trace_id;
    return [builder.build(ctx.caseId, "langchain", ctx.file, meta)];
  },
};
