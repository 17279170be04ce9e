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
 * AgentDojo run files. Source: ethz-spylab/agentdojo, `src/agentdojo/types.py` (ChatMessage) and
 * the `runs/` folder: `{suite_name, pipeline_name, user_task_id, injection_task_id, attack_type,
 * injections, messages, error, utility, security, duration}`. Messages are OpenAI-like but
 * `tool_calls[].function` is the tool name, `tool_calls[].args` an object, ids may be null, tool
 * messages carry `tool_call_id`, an embedded `tool_call` and `error`, and newer runs use content
 * blocks `[{type: "text", content}]`.
 */
export const agentdojo: TraceFormat = {
  name: "agentdojo",
  detect: (doc) => inspectAgentdojo(doc).ok,
  inspect: inspectAgentdojo,
  import(doc, ctx): Trace[] {
    const run = doc as Record<string, unknown>;
    const builder = new TraceBuilder();
    const base = `${ctx.prefix}${ctx.prefix ? "." : ""}messages`;
    for (const [i, m] of (run.messages as unknown[]).entries()) {
      const at = `${base}[${i}]`;
      if (!isObject(m)) {
        builder.warnings.push(`skipped: ${at} is not a message object`);
        continue;
      }
      if (m.role === "tool") {
        const embedded = isObject(m.tool_call) ? m.tool_call : {};
        const tool = typeof embedded.function === "string" ? embedded.function : null;
        const error = typeof m.error === "string" ? m.error : null;
        builder.toolResult(
          idOf(m.tool_call_id) ?? idOf(embedded.id),
          tool,
          contentText(m.content),
          error,
          at,
        );
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
      const seq = builder.message(role, contentText(m.content), at);
      if (!Array.isArray(m.tool_calls)) continue;
      for (const [j, tc] of m.tool_calls.entries()) {
        if (!isObject(tc)) continue;
        const name = typeof tc.function === "string" ? tc.function : "";
        builder.toolCall(seq, idOf(tc.id), name, asJson(tc.args ?? {}), `${at}.tool_calls[${j}]`);
      }
    }
    const meta: Record<string, JsonValue> = {};
    for (const k of META_KEYS) if (run[k] !== undefined) meta[k] = asJson(run[k]);
    return [builder.build(ctx.caseId, "agentdojo", ctx.file, meta)];
  },
};
