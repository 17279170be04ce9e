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
  const out: RecordedMessage = { role, text: withRefusal(text, fields.refusal), calls: [], results: [], at };
  // LangChain's parsed `tool_calls` ({name, args, id}) win over the raw provider form that
  // `additional_kwargs.tool_calls` repeats; a plain OpenAI message (wrap_openai) has only the raw
  // form ({id, type: "function", function: {name, arguments}}) at the top level.
  const [list, listAt] =
    Array.isArray(fields.tool_calls) && fields.tool_calls.length > 0
      ? [fields.tool_calls, `${fieldsAt}.tool_calls`]
      : isObject(fields.additional_kwargs) && Array.isArray(fields.additional_kwargs.tool_calls)
        ? [fields.additional_kwargs.tool_calls, `${fieldsAt}.additional_kwargs.tool_calls`]
        : [[], ""];
  for (const [j, tc] of list.entries()) {
    const cAt = `${listAt}[${j}]`;
    const call = toolCall(tc, cAt, warnings);
    if (call) out.calls.push(call);
  }
  // The legacy single `function_call` ({name, arguments}) of OpenAI chat messages.
  const fc = isObject(fields.function_call)
    ? fields.function_call
    : isObject(fields.additional_kwargs) && isObject(fields.additional_kwargs.function_call)
      ? fields.additional_kwargs.function_call
      : undefined;
  if (fc && out.calls.length === 0) {
    const cAt =
      fc === fields.function_call
        ? `${fieldsAt}.function_call`
        : `${fieldsAt}.additional_kwargs.function_call`;
    const call = toolCall({ function: fc }, cAt, warnings);
    if (call) out.calls.push(call);
  }
  return out;
}

/** A message's text with its OpenAI `refusal` (a model's refusal is what it said). */
function withRefusal(text: string, refusal: unknown): string {
  if (typeof refusal !== "string" || refusal === "") return text;
  return text === "" ? refusal : `${text}\n${refusal}`;
}

/**
 * One tool call of a message: LangChain's `{name, args, id}` or OpenAI's `{id, type: "function",
 * function: {name, arguments}}` (arguments a JSON string). A call without a name is kept with the
 * name "" and a warning, so a policy still sees that something was called.
 */
function toolCall(tc: unknown, at: string, warnings: string[]): RecordedMessage["calls"][number] | undefined {
  if (!isObject(tc)) {
    warnings.push(`skipped: ${at} is not a tool call object`);
    return undefined;
  }
  const fn = isObject(tc.function) ? tc.function : undefined;
  const name = fn ? fn.name : tc.name;
  if (typeof name !== "string" || name === "") warnings.push(`unnamed_call: ${at} has no tool name`);
  return {
    id: idOf(tc.id),
    name: typeof name === "string" ? name : "",
    args: fn
      ? parseArguments(fn.arguments, `${at}.function.arguments`, warnings)
      : parseArguments(tc.args, at, warnings),
    at,
  };
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

/**
 * An `llm` run. Inputs: `inputs.messages` (chat models; OpenAI's request body under
 * `wrap_openai`) or `inputs.prompts`. Outputs: LangChain's `outputs.generations[][]` (`message`,
 * else `text`), or the OpenAI response that `wrap_openai` records: a chat completion's
 * `choices[].message`, a completion's `choices[].text`.
 */
function llmRun(
  run: Obj,
  at: string,
  warnings: string[],
): { input: RecordedMessage[]; output: RecordedMessage[] } {
  const inputs = isObject(run.inputs) ? run.inputs : {};
  const input = Array.isArray(inputs.messages)
    ? messageList(inputs.messages, join(at, "inputs.messages"), warnings)
    : messageList(inputs.prompts, join(at, "inputs.prompts"), warnings);
  if (Array.isArray(inputs.tools) && inputs.tools.length > 0)
    warnings.push(
      `skipped: ${join(at, "inputs.tools")} declares tools the model may call (declarations are not events)`,
    );
  const output: RecordedMessage[] = [];
  const outputs = isObject(run.outputs) ? run.outputs : {};
  const generation = (g: unknown, gAt: string): void => {
    if (!isObject(g)) {
      warnings.push(`skipped: ${gAt} is not a generation object`);
      return;
    }
    const m = g.message !== undefined ? message(g.message, `${gAt}.message`, warnings) : undefined;
    if (m) output.push(m);
    else if (typeof g.text === "string")
      output.push({ role: "assistant", text: g.text, calls: [], results: [], at: gAt });
    else if (g.message === undefined) warnings.push(`skipped: ${gAt} has neither a message nor a text`);
  };
  if (Array.isArray(outputs.generations)) {
    let gens = outputs.generations;
    let base = join(at, "outputs.generations");
    if (Array.isArray(gens[0])) {
      gens = gens[0];
      base = `${base}[0]`;
    }
    for (const [j, g] of gens.entries()) generation(g, `${base}[${j}]`);
  } else if (Array.isArray(outputs.choices)) {
    for (const [j, c] of outputs.choices.entries()) generation(c, join(at, `outputs.choices[${j}]`));
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

/**
 * A `tool` run's output. LangSmith stores a returned dict as the outputs themselves and wraps any
 * other return value in one key: `{output: value}` (the Python SDK's `@traceable`, langchain-core's
 * tracer) or `{outputs: value}` (the JS SDK's `traceable`). So a lone `output` or `outputs` key is
 * the value (a string, a serialised `ToolMessage` with its `tool_call_id`, or other JSON); any
 * other outputs object is the tool's return value, kept whole as JSON.
 */
function toolOutput(run: Obj): { content: string; id: string | null; error: string | null } {
  const error = typeof run.error === "string" && run.error !== "" ? run.error : null;
  if (!isObject(run.outputs)) return { content: "", id: null, error };
  const keys = Object.keys(run.outputs);
  if (keys.length === 0) return { content: "", id: null, error };
  if (keys.length > 1 || (keys[0] !== "output" && keys[0] !== "outputs"))
    return { content: JSON.stringify(run.outputs), id: null, error };
  const out = run.outputs[keys[0] as string];
  if (out === undefined || out === null) return { content: "", id: null, error };
  if (typeof out === "string") return { content: out, id: null, error };
  const m = message(out, "", []);
  const r = m?.results[0];
  if (r) return { content: r.content, id: r.id, error: error ?? r.error };
  return { content: JSON.stringify(out), id: null, error };
}

/** Whether two JSON values are equal, whatever the order of object keys. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b))
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]))
    );
  if (!isObject(a) || !isObject(b)) return false;
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]))
  );
}

/** Identity of a message in the history, as ConversationAssembler compares them. */
function keyOf(m: RecordedMessage): string {
  return JSON.stringify([
    m.role,
    m.text,
    m.calls.map((c) => [c.id, c.name, c.args]),
    m.results.map((r) => [r.id, r.content]),
  ]);
}

/**
 * The calls the model runs have shown and not yet seen answered, in order: how a `tool` run finds
 * the call it executes. By `tool_call_id` when its output carries one; else the earliest
 * unanswered call of its name; else the earliest unanswered call (`@traceable` tool functions
 * record neither the call id nor, necessarily, the tool's name), so each call is counted once.
 */
/** A call a model run has shown: its id, tool name and arguments (unknown once answered). */
interface Shown {
  id: string | null;
  name: string;
  args?: JsonValue;
}

class CallLedger {
  private readonly open: Shown[] = [];
  private readonly known = new Set<string>();

  /** Records the calls of messages, and the results among them that answer earlier calls. */
  see(messages: readonly RecordedMessage[]): void {
    for (const m of messages) {
      for (const c of m.calls) {
        if (c.id !== null) {
          if (this.known.has(c.id)) continue;
          this.known.add(c.id);
        }
        this.open.push({ id: c.id, name: c.name, args: c.args });
      }
      for (const r of m.results) this.take(r.id, r.name ?? "", false);
    }
  }

  /** Whether a tool run of this id has a call to answer (any open call when it has no id). */
  has(id: string | null): boolean {
    if (id !== null) return this.known.has(id);
    return this.open.length > 0;
  }

  /** The call a tool run answers, taken off the open list; undefined when none is open. */
  answer(id: string | null, name: string): Shown | undefined {
    return this.take(id, name, true);
  }

  private take(id: string | null, name: string, byOrder: boolean): Shown | undefined {
    let i =
      id !== null ? this.open.findIndex((c) => c.id === id) : this.open.findIndex((c) => c.name === name);
    if (i === -1 && id === null && byOrder) i = 0;
    if (i === -1 || i >= this.open.length)
      return id !== null && this.known.has(id) ? { id, name } : undefined;
    const [call] = this.open.splice(i, 1);
    return call;
  }
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
 * ...), `inputs`, `outputs`, `error`, `child_runs`, `parent_run_id`, `dotted_order`); its OpenAI
 * wrapper (`python/langsmith/wrappers/_openai.py` `wrap_openai`, JS `langsmith/wrappers/openai`
 * `wrapOpenAI`: an `llm` run whose `inputs` are the chat completion request and whose `outputs` are
 * the `ChatCompletion`, `choices[].message` with OpenAI `tool_calls`) and `traceable` (a returned
 * dict is the outputs, anything else `{output}` in Python, `{outputs}` in JS); and langchain-core's
 * tracer (`langchain_core/tracers/base.py`, `schemas.py`): chat-model runs record
 * `inputs.messages` as batches of serialised messages and `outputs.generations[][].message`;
 * tool runs record their arguments in `inputs` (or `{input: string}`) and `outputs.output`.
 * A root run with nested `child_runs`, or a flat array of runs, is one trace. Runs are flattened
 * in execution order: by `dotted_order` (start time and id of every ancestor, so a parent sorts
 * before its children) when every run has one, else by `start_time`, else tree order. `llm` runs
 * make the conversation, `tool` runs execute its calls (each call counted once, see CallLedger);
 * `chain` runs only group them; a `retriever` run's documents are named in a warning.
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
    const calls = new CallLedger();
    // Tool runs whose call no model output has shown yet: a run tree may record a model's output
    // only in the next model call's input (the tool ran in between), and a result must follow
    // the message that made its call. They wait for the next `llm` run's input.
    let waiting: { run: Obj; at: string }[] = [];
    let history: string[] = [];
    const execute = ({ run, at }: { run: Obj; at: string }): void => {
      const out = toolOutput(run);
      const name = typeof run.name === "string" ? run.name : "";
      const call = calls.answer(out.id, name);
      const args = toolArgs(run.inputs);
      // The tool run's inputs repeat the arguments of the call it executes; the call's own are
      // the event's. Inputs that say something else (older tracers wrote Python's `str(dict)`)
      // are named, not dropped silently.
      const recorded = isObject(run.inputs) && Object.keys(run.inputs).length > 0;
      if (call?.args !== undefined && recorded && !sameJson(args, call.args))
        builder.warnings.push(
          `skipped: ${join(at, "inputs")} records the arguments of call ${call.id ?? call.name} differently from the call; the call's arguments are used`,
        );
      conversation.execution(
        call ? call.id : out.id,
        call && call.id === null ? call.name : name,
        args,
        out,
        isObject(run.inputs) ? join(at, "inputs") : at,
        isObject(run.outputs) ? join(at, "outputs") : at,
      );
    };
    for (const entry of runs) {
      const { run, at } = entry;
      if (run.run_type === "llm") {
        const { input, output } = llmRun(run, at, builder.warnings);
        // Only the messages after the history already seen are new (as ConversationAssembler
        // reads them); a waiting tool run's result lands right after the new message whose call
        // it answers, before the tool messages that repeat it (which then count once).
        const keys = input.map(keyOf);
        let k = 0;
        while (k < keys.length && k < history.length && keys[k] === history[k]) k++;
        history = keys.slice(0, k);
        for (let i = k; i < input.length; i++) {
          const m = input[i] as RecordedMessage;
          calls.see([m]);
          history.push(keys[i] as string);
          if (m.calls.length === 0 || waiting.length === 0) continue;
          conversation.inference(input.slice(0, i + 1), []);
          const ready = waiting.filter((w) => calls.has(toolOutput(w.run).id));
          waiting = waiting.filter((w) => !ready.includes(w));
          for (const w of ready) execute(w);
        }
        if (waiting.length > 0) {
          conversation.inference(input, []);
          for (const w of waiting) execute(w);
          waiting = [];
        }
        calls.see(output);
        history.push(...output.map(keyOf));
        conversation.inference(input, output);
      } else if (
        run.run_type === "retriever" &&
        isObject(run.outputs) &&
        Object.keys(run.outputs).length > 0
      ) {
        // Retrieved documents reach the model only inside a later message, which is imported.
        builder.warnings.push(
          `skipped: ${join(at, "outputs")} holds a retriever's documents (the model sees them only through a message)`,
        );
      } else if (run.run_type === "tool") {
        if (calls.has(toolOutput(run).id)) execute(entry);
        else waiting.push(entry);
      }
    }
    for (const w of waiting) execute(w);
    const root = runs.find((r) => r.run.parent_run_id === null || r.run.parent_run_id === undefined)?.run;
    const meta: Record<string, JsonValue> = {};
    if (root && typeof root.name === "string") meta.run_name = root.name;
    if (root && typeof root.trace_id === "string") meta.langsmith_trace_id = root.trace_id;
    return [builder.build(ctx.caseId, "langchain", ctx.file, meta)];
  },
};
