import type { JsonValue } from "../../policy/ir.js";
import { TraceBuilder } from "../builder.js";
import type { Trace } from "../model.js";
import { type ImportContext, idOf, isObject, parseArguments, type TraceFormat } from "./common.js";
import { ConversationAssembler, type RecordedMessage } from "./conversation.js";

/** Operation names of inference spans (`gen_ai.operation.name`) whose messages make the conversation. */
const INFERENCE = new Set(["chat", "text_completion", "generate_content"]);

/** One span with its address and decoded attributes. */
interface Span {
  at: string;
  traceId: string;
  spanId: string;
  start: bigint;
  order: number;
  attributes: Map<string, { value: unknown; raw: Record<string, unknown>; at: string }>;
  status: Record<string, unknown>;
}

/**
 * An OTLP `AnyValue` as plain JSON: `{stringValue}`, `{boolValue}`, `{intValue}` (int64, a string
 * in OTLP JSON), `{doubleValue}`, `{bytesValue}`, `{arrayValue: {values}}`, `{kvlistValue: {values:
 * [{key, value}]}}`. Anything else is null.
 */
export function anyValue(v: unknown): JsonValue {
  if (!isObject(v)) return null;
  if (typeof v.stringValue === "string") return v.stringValue;
  if (typeof v.boolValue === "boolean") return v.boolValue;
  if (typeof v.intValue === "string" || typeof v.intValue === "number") return Number(v.intValue);
  if (typeof v.doubleValue === "number") return v.doubleValue;
  if (typeof v.bytesValue === "string") return v.bytesValue;
  if (isObject(v.arrayValue) && Array.isArray(v.arrayValue.values)) return v.arrayValue.values.map(anyValue);
  if (isObject(v.kvlistValue) && Array.isArray(v.kvlistValue.values)) {
    const out: Record<string, JsonValue> = {};
    for (const kv of v.kvlistValue.values)
      if (isObject(kv) && typeof kv.key === "string") out[kv.key] = anyValue(kv.value);
    return out;
  }
  return null;
}

/** `startTimeUnixNano` (a decimal string or a number in OTLP JSON) as a BigInt; 0 when unreadable. */
function nanos(v: unknown): bigint {
  try {
    if (typeof v === "string" && /^\d+$/.test(v)) return BigInt(v);
    if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  } catch {
    // Unreachable for the checked shapes; kept so no input can throw here.
  }
  return 0n;
}

function text(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "";
  return JSON.stringify(v);
}

/** The spans of a document, each with its address, in file order. */
function spansOf(doc: Record<string, unknown>, prefix: string, warnings: string[]): Span[] {
  const out: Span[] = [];
  const resources = doc.resourceSpans as unknown[];
  for (const [r, rs] of resources.entries()) {
    if (!isObject(rs) || !Array.isArray(rs.scopeSpans)) continue;
    for (const [s, ss] of rs.scopeSpans.entries()) {
      if (!isObject(ss) || !Array.isArray(ss.spans)) continue;
      for (const [i, span] of ss.spans.entries()) {
        const at = `${prefix}resourceSpans[${r}].scopeSpans[${s}].spans[${i}]`;
        if (!isObject(span)) {
          warnings.push(`skipped: ${at} is not a span object`);
          continue;
        }
        const attributes: Span["attributes"] = new Map();
        if (Array.isArray(span.attributes)) {
          for (const [j, a] of span.attributes.entries()) {
            if (!isObject(a) || typeof a.key !== "string") continue;
            const raw = isObject(a.value) ? a.value : {};
            attributes.set(a.key, { value: anyValue(raw), raw, at: `${at}.attributes[${j}]` });
          }
        }
        out.push({
          at,
          traceId: typeof span.traceId === "string" ? span.traceId : "",
          spanId: typeof span.spanId === "string" ? span.spanId : "",
          start: nanos(span.startTimeUnixNano),
          order: out.length,
          attributes,
          status: isObject(span.status) ? span.status : {},
        });
      }
    }
  }
  return out;
}

/**
 * The messages of `gen_ai.input.messages` / `gen_ai.output.messages` (or the parts of
 * `gen_ai.system_instructions`, as one system message). The attribute is a JSON string (then
 * addresses step into it: `...value.stringValue[1].parts[0]`) or a structured OTLP array.
 */
function messagesOf(span: Span, key: string, warnings: string[]): RecordedMessage[] {
  const attr = span.attributes.get(key);
  if (!attr) return [];
  let list: unknown = attr.value;
  let base = `${attr.at}.value.arrayValue.values`;
  if (typeof attr.raw.stringValue === "string") {
    base = `${attr.at}.value.stringValue`;
    try {
      list = JSON.parse(attr.raw.stringValue);
    } catch {
      warnings.push(`invalid_messages: ${attr.at} (${key}) is not valid JSON; skipped`);
      return [];
    }
  }
  if (!Array.isArray(list)) {
    warnings.push(`invalid_messages: ${attr.at} (${key}) is not a list; skipped`);
    return [];
  }
  if (key === "gen_ai.system_instructions") {
    return [recorded({ role: "system", parts: list }, base, base, warnings)];
  }
  const out: RecordedMessage[] = [];
  for (const [i, m] of list.entries()) {
    if (!isObject(m)) {
      warnings.push(`skipped: ${base}[${i}] is not a message object`);
      continue;
    }
    out.push(recorded(m, `${base}[${i}]`, `${base}[${i}].parts`, warnings));
  }
  return out;
}

/**
 * One GenAI message `{role, parts}`: `text` parts (`content`) make its text, `tool_call` parts
 * (`id`, `name`, `arguments` as an object or a JSON string) its calls, `tool_call_response` parts
 * (`id`, `response`) its results; other parts (`blob`, `uri`, `reasoning`, ...) contribute their
 * JSON, so nothing the model saw is lost. A message with `content` and no `parts` (older
 * instrumentations) is read as text.
 */
function recorded(
  m: Record<string, unknown>,
  at: string,
  partsAt: string,
  warnings: string[],
): RecordedMessage {
  const role =
    m.role === "system" || m.role === "user" || m.role === "assistant" || m.role === "tool" ? m.role : "user";
  if (role !== m.role) warnings.push(`unknown_role: ${at} has role ${JSON.stringify(m.role)}; read as user`);
  const out: RecordedMessage = { role, text: "", calls: [], results: [], at };
  const texts: string[] = [];
  const parts = Array.isArray(m.parts) ? m.parts : [];
  if (!Array.isArray(m.parts) && m.content !== undefined && m.content !== null) texts.push(text(m.content));
  for (const [j, p] of parts.entries()) {
    const pAt = `${partsAt}[${j}]`;
    if (!isObject(p)) {
      texts.push(text(p));
      continue;
    }
    if (p.type === "text" && typeof p.content === "string") texts.push(p.content);
    else if (p.type === "tool_call") {
      out.calls.push({
        id: idOf(p.id),
        name: typeof p.name === "string" ? p.name : "",
        args: parseArguments(p.arguments, pAt, warnings),
        at: pAt,
      });
    } else if (p.type === "tool_call_response") {
      out.results.push({
        id: idOf(p.id),
        name: null,
        content: text(p.response ?? p.result),
        error: null,
        at: pAt,
      });
    } else texts.push(JSON.stringify(p));
  }
  out.text = texts.join("\n");
  return out;
}

/** The error of a failed span: status code 2 (`STATUS_CODE_ERROR`) with its message or `error.type`. */
function spanError(span: Span): string | null {
  const code = span.status.code;
  if (code !== 2 && code !== "STATUS_CODE_ERROR") return null;
  const message = span.status.message;
  if (typeof message === "string" && message !== "") return message;
  const type = span.attributes.get("error.type")?.value;
  return typeof type === "string" && type !== "" ? type : "error";
}

function importTrace(spans: Span[], builder: TraceBuilder): void {
  const conversation = new ConversationAssembler(builder);
  for (const span of spans) {
    const op = span.attributes.get("gen_ai.operation.name")?.value;
    if (typeof op === "string" && INFERENCE.has(op)) {
      const input = [
        ...messagesOf(span, "gen_ai.system_instructions", builder.warnings),
        ...messagesOf(span, "gen_ai.input.messages", builder.warnings),
      ];
      conversation.inference(input, messagesOf(span, "gen_ai.output.messages", builder.warnings));
    } else if (op === "execute_tool") {
      const name = span.attributes.get("gen_ai.tool.name")?.value;
      const args = span.attributes.get("gen_ai.tool.call.arguments");
      const result = span.attributes.get("gen_ai.tool.call.result");
      const callAt = args?.at ?? span.at;
      conversation.execution(
        idOf(span.attributes.get("gen_ai.tool.call.id")?.value),
        typeof name === "string" ? name : "",
        args ? parseArguments(args.value, callAt, builder.warnings) : {},
        { content: text(result?.value), error: spanError(span) },
        callAt,
        result?.at ?? span.at,
      );
    }
  }
}

/**
 * OpenTelemetry GenAI spans in OTLP JSON. Sources: the OTLP JSON encoding
 * (opentelemetry-proto `opentelemetry/proto/trace/v1/trace.proto`, "JSON Protobuf Encoding" in
 * the OTLP specification: `resourceSpans[].scopeSpans[].spans[]`, attributes as `{key, value:
 * AnyValue}`, 64-bit integers as decimal strings, ids as hex) and the OpenTelemetry semantic
 * conventions for generative AI (`docs/gen-ai/gen-ai-spans.md`, and the JSON schemas
 * `gen-ai-input-messages.json` / `gen-ai-output-messages.json` / `gen-ai-system-instructions.json`
 * of open-telemetry/semantic-conventions): inference spans (`gen_ai.operation.name` `chat`,
 * `text_completion`, `generate_content`) carry `gen_ai.input.messages` and
 * `gen_ai.output.messages`, lists of `{role, parts: [{type: "text", content} | {type:
 * "tool_call", id, name, arguments} | {type: "tool_call_response", id, response} | ...]}` as
 * JSON strings; `execute_tool` spans carry `gen_ai.tool.name`, `gen_ai.tool.call.id`,
 * `gen_ai.tool.call.arguments` and `gen_ai.tool.call.result`. Other spans (`invoke_agent`,
 * `embeddings`, HTTP) are skipped. Spans are ordered by `startTimeUnixNano` as a BigInt (nanosecond
 * times exceed 2^53), then span id, then file order; one trace per OTLP `traceId`, in order of
 * first appearance (case ids `#N` when a document holds several).
 */
export const otel: TraceFormat = {
  name: "otel",
  detect(doc) {
    return isObject(doc) && Array.isArray(doc.resourceSpans);
  },
  import(doc, ctx: ImportContext): Trace[] {
    const warnings: string[] = [];
    const prefix = ctx.prefix ? `${ctx.prefix}.` : "";
    const groups = new Map<string, Span[]>();
    for (const span of spansOf(doc as Record<string, unknown>, prefix, warnings)) {
      const g = groups.get(span.traceId);
      if (g) g.push(span);
      else groups.set(span.traceId, [span]);
    }
    if (groups.size === 0) groups.set("", []);
    return [...groups.entries()].map(([traceId, spans], n) => {
      spans.sort((a, b) =>
        a.start !== b.start
          ? a.start < b.start
            ? -1
            : 1
          : a.spanId !== b.spanId
            ? a.spanId < b.spanId
              ? -1
              : 1
            : a.order - b.order,
      );
      const builder = new TraceBuilder();
      if (n === 0) builder.warnings.push(...warnings);
      importTrace(spans, builder);
      const caseId = groups.size > 1 ? `${ctx.caseId}#${n}` : ctx.caseId;
      return builder.build(caseId, "otel", ctx.file, traceId === "" ? {} : { otel_trace_id: traceId });
    });
  },
};
