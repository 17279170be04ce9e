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
  reject,
  shapeOf,
  type TraceFormat,
} from "./common.js";

const META_KEYS = [
  "suite_name",
  "pipeline_name",
  "user_task_id",
  "injection_task_id",
  "attack_type",
] as const;

/** An AgentDojo run is a `messages` list in an object with the run keys `suite_name` or `user_task_id`. */
function inspectAgentdojo(doc: unknown): Detection {
  if (!isObject(doc)) return reject(`the document is ${shapeOf(doc)}, not a run object`);
  if (!Array.isArray(doc.messages)) return reject("no messages array");
  const key = ["suite_name", "user_task_id"].find((k) => k in doc);
  return key
    ? accept(`an object with messages and the AgentDojo run key "${key}"`)
    : reject('messages without the AgentDojo run keys "suite_name" or "user_task_id"');
}

/**
 * Run keys that hold neither conversation nor content: scores, timing and versions of the
 * benchmark (booleans, numbers and version or date strings), read by nobody downstream.
 */
const QUIET_KEYS = new Set([
  "messages",
  "utility",
  "security",
  "duration",
  "benchmark_version",
  "agentdojo_package_version",
  "evaluation_timestamp",
]);

/** Keys of the messages this importer maps (AgentDojo `ChatMessage`); others are warned about. */
const TOOL_MESSAGE_KEYS = new Set(["role", "content", "tool_call_id", "tool_call", "error"]);
const MESSAGE_KEYS = new Set(["role", "content", "tool_calls"]);

/** Keys of an AgentDojo `FunctionCall` that this importer maps. */
const CALL_KEYS = new Set(["function", "args", "id", "placeholder_args"]);

/** Whether a JSON value holds anything (placeholder args and run errors are usually null or empty). */
function holdsSomething(v: unknown): boolean {
  if (v === null || v === undefined || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return Object.keys(v).length > 0;
  return true;
}

/** Warns about every key of `obj` that is not in `known` and holds something, by address. */
function warnUnknownKeys(
  obj: Record<string, unknown>,
  known: ReadonlySet<string>,
  at: string,
  warnings: string[],
): void {
  for (const [k, v] of Object.entries(obj))
    if (!known.has(k) && holdsSomething(v))
      warnings.push(`skipped: ${at}.${k} is not an AgentDojo message field proof reads`);
}

/** Identity of a call for matching the copy a tool message embeds: tool name and arguments. */
function callKey(tool: string, args: unknown): string {
  return `${tool}\u0000${JSON.stringify(args)}`;
}

/**
 * AgentDojo run files. Source: ethz-spylab/agentdojo, `src/agentdojo/types.py` (ChatMessage,
 * FunctionCall, MessageContentBlock) and the `runs/` folder: `{suite_name, pipeline_name,
 * user_task_id, injection_task_id, attack_type, injections, messages, error, utility, security,
 * duration}`. Messages are OpenAI-like but `tool_calls[].function` is the tool name,
 * `tool_calls[].args` an object, ids may be null, tool messages carry `tool_call_id`, an embedded
 * `tool_call` (a copy of the call they answer) and `error`, and newer runs use content blocks
 * `[{type: "text" | "thinking" | "redacted_thinking", content}]`, whose texts are joined.
 *
 * Nothing silent (docs/traces.md): the run keys are kept in the header's meta; `injections` (the
 * attack's payloads as planted in the environment, which the agent sees only through tool
 * results), a run-level `error`, non-null `placeholder_args`, the arguments of an embedded call
 * that answers no call of the trace, and any key this importer does not know are each named in a
 * `skipped:` warning.
 */
export const agentdojo: TraceFormat = {
  name: "agentdojo",
  detect: (doc) => inspectAgentdojo(doc).ok,
  inspect: inspectAgentdojo,
  import(doc, ctx): Trace[] {
    const run = doc as Record<string, unknown>;
    const builder = new TraceBuilder();
    const dot = `${ctx.prefix}${ctx.prefix ? "." : ""}`;
    const base = `${dot}messages`;
    const w = builder.warnings;
    // Calls imported so far, by tool name and arguments: what a tool message's copy must match.
    const calls = new Set<string>();
    if (holdsSomething(run.injections)) {
      const n = isObject(run.injections) ? Object.keys(run.injections).length : 1;
      w.push(
        `skipped: ${dot}injections holds ${n} attack ${n === 1 ? "payload" : "payloads"} as planted in the environment; the agent saw them only in tool results, which are imported`,
      );
    }
    if (holdsSomething(run.error))
      w.push(`skipped: ${dot}error is the run's error, recorded by the benchmark, not a message`);
    for (const [k, v] of Object.entries(run))
      if (
        !QUIET_KEYS.has(k) &&
        !(META_KEYS as readonly string[]).includes(k) &&
        k !== "injections" &&
        k !== "error" &&
        holdsSomething(v)
      )
        w.push(`skipped: ${dot}${k} is not an AgentDojo run field proof reads`);
    for (const [i, m] of (run.messages as unknown[]).entries()) {
      const at = `${base}[${i}]`;
      if (!isObject(m)) {
        builder.warnings.push(`skipped: ${at} is not a message object`);
        continue;
      }
      if (m.role === "tool") {
        warnUnknownKeys(m, TOOL_MESSAGE_KEYS, at, w);
        const embedded = isObject(m.tool_call) ? m.tool_call : {};
        const tool = typeof embedded.function === "string" ? embedded.function : null;
        const error = typeof m.error === "string" ? m.error : null;
        const callId = idOf(m.tool_call_id) ?? idOf(embedded.id);
        // The embedded call is a copy of the assistant's, whose arguments are imported with that
        // call; a copy of no call of the trace would lose its arguments, so it is named.
        if (holdsSomething(embedded.args) && !calls.has(callKey(tool ?? "", embedded.args)))
          w.push(`skipped: ${at}.tool_call.args are the arguments of a call this trace does not hold`);
        builder.toolResult(callId, tool, contentText(m.content), error, at);
        continue;
      }
      const role: MessageRole | undefined =
        m.role === "user"
          ? "user"
          : m.role === "assistant"
            ? "assistant"
            : m.role === "system"
              ? "system"
              : undefined;
      if (!role) {
        builder.warnings.push(`skipped: ${at} has unknown role ${JSON.stringify(m.role)}`);
        continue;
      }
      warnUnknownKeys(m, MESSAGE_KEYS, at, w);
      const seq = builder.message(role, contentText(m.content), at);
      if (!Array.isArray(m.tool_calls)) continue;
      for (const [j, tc] of m.tool_calls.entries()) {
        const callAt = `${at}.tool_calls[${j}]`;
        if (!isObject(tc)) {
          if (holdsSomething(tc)) w.push(`skipped: ${callAt} is not a function call object`);
          continue;
        }
        warnUnknownKeys(tc, CALL_KEYS, callAt, w);
        // Placeholder arguments belong to the benchmark's ground-truth calls, not to calls a
        // model made; should a run hold them, they are named rather than dropped.
        if (holdsSomething(tc.placeholder_args))
          w.push(
            `skipped: ${callAt}.placeholder_args are the benchmark's placeholders, not the call's arguments`,
          );
        const name = typeof tc.function === "string" ? tc.function : "";
        builder.toolCall(seq, idOf(tc.id), name, asJson(tc.args ?? {}), callAt);
        calls.add(callKey(name, tc.args ?? {}));
      }
    }
    const meta: Record<string, JsonValue> = {};
    for (const k of META_KEYS) if (run[k] !== undefined) meta[k] = asJson(run[k]);
    return [builder.build(ctx.caseId, "agentdojo", ctx.file, meta)];
  },
};
