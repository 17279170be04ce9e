import type { JsonValue } from "../../policy/ir.js";
import { TraceBuilder } from "../builder.js";
import type { Trace } from "../model.js";
import { type ImportContext, idOf, isObject, parseArguments, type TraceFormat } from "./common.js";
import { ConversationAssembler, type RecordedMessage } from "./conversation.js";

/** Operation names of inference spans (`gen_ai.operation.name`) whose messages make the conversation. */
const INFERENCE = new Set(["chat", "text_completion", "generate_content"]);

/**
 * Operation names of agent spans (`gen_ai.operation.name`) whose opt-in `gen_ai.input.messages` /
 * `gen_ai.output.messages` frame the inference calls they contain (GenAI agent spans, v1.37 on).
 */
const AGENT = new Set(["invoke_agent", "invoke_workflow"]);

/** AI SDK operations (`ai.operationId`) that call the model once: the SDK's inference spans. */
const AI_SDK_INFERENCE = new Set([
  "ai.generateText.doGenerate",
  "ai.streamText.doStream",
  "ai.generateObject.doGenerate",
  "ai.streamObject.doStream",
]);

/** AI SDK operations (`ai.operationId`) that wrap the steps of one call: read like agent spans. */
const AI_SDK_CALL = new Set(["ai.generateText", "ai.streamText", "ai.generateObject", "ai.streamObject"]);

/**
 * Attributes that hold content (messages, tool names, arguments, results, embedded text). On a
 * span this importer does not read, each one present is named in a `skipped:` warning.
 */
const CONTENT_KEYS = [
  "gen_ai.system_instructions",
  "gen_ai.input.messages",
  "gen_ai.output.messages",
  "gen_ai.tool.call.arguments",
  "gen_ai.tool.call.result",
  "ai.prompt",
  "ai.prompt.messages",
  "ai.response.text",
  "ai.response.toolCalls",
  "ai.response.object",
  "ai.toolCall.args",
  "ai.toolCall.result",
  "ai.value",
  "ai.values",
];

/** One span with its address and decoded attributes. */
interface Span {
  at: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  start: bigint;
  end: bigint;
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

/** `startTimeUnixNano` / `endTimeUnixNano` (a decimal string or a number in OTLP JSON) as a BigInt; 0 when unreadable. */
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
          parentSpanId: typeof span.parentSpanId === "string" ? span.parentSpanId : "",
          start: nanos(span.startTimeUnixNano),
          end: nanos(span.endTimeUnixNano),
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
 * A JSON-encoded attribute value decoded: the attribute's string parsed when it holds JSON, the
 * structured value otherwise. `base` is the address its own leaves step from.
 */
function decoded(
  span: Span,
  key: string,
  warnings: string[],
): { value: unknown; base: string; at: string } | undefined {
  const attr = span.attributes.get(key);
  if (!attr) return undefined;
  if (typeof attr.raw.stringValue !== "string")
    return { value: attr.value, base: `${attr.at}.value.arrayValue.values`, at: attr.at };
  try {
    return { value: JSON.parse(attr.raw.stringValue), base: `${attr.at}.value.stringValue`, at: attr.at };
  } catch {
    warnings.push(`invalid_messages: ${attr.at} (${key}) is not valid JSON; skipped`);
    return undefined;
  }
}

/**
 * A tool result as recorded in `gen_ai.tool.call.result` or `ai.toolCall.result`: a string that
 * is itself a JSON string literal (`"\"sunny\""`, what `JSON.stringify` of a string result gives)
 * is decoded to the string it encodes; other strings are the content as given; a structured value
 * is its JSON.
 */
function resultText(v: unknown): string {
  if (typeof v === "string") {
    if (v.trimStart().startsWith('"')) {
      try {
        const inner: unknown = JSON.parse(v);
        if (typeof inner === "string") return inner;
      } catch {
        // Not a JSON string literal after all: the text as given.
      }
    }
    return v;
  }
  return text(v);
}

/**
 * Tool arguments as recorded: a JSON string is parsed ({@link parseArguments}); when that gives a
 * string that itself holds a JSON object or array (arguments JSON-encoded twice), that is parsed too.
 */
function argumentsOf(raw: unknown, at: string, warnings: string[]): JsonValue {
  const args = parseArguments(raw, at, warnings);
  if (typeof args !== "string") return args;
  const t = args.trim();
  if (!(t.startsWith("{") || t.startsWith("["))) return args;
  try {
    return JSON.parse(t) as JsonValue;
  } catch {
    return args;
  }
}

/**
 * The messages of `gen_ai.input.messages` / `gen_ai.output.messages` (or the parts of
 * `gen_ai.system_instructions`, as one system message). The attribute is a JSON string (then
 * addresses step into it: `...value.stringValue[1].parts[0]`) or a structured OTLP array.
 */
function messagesOf(span: Span, key: string, warnings: string[]): RecordedMessage[] {
  const attr = span.attributes.get(key);
  if (!attr) return [];
  const d = decoded(span, key, warnings);
  if (!d) return [];
  const { value: list, base } = d;
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

/** A message role, or user (with a warning) for anything else. */
function roleOf(m: Record<string, unknown>, at: string, warnings: string[]): RecordedMessage["role"] {
  const role =
    m.role === "system" || m.role === "user" || m.role === "assistant" || m.role === "tool" ? m.role : "user";
  if (role !== m.role) warnings.push(`unknown_role: ${at} has role ${JSON.stringify(m.role)}; read as user`);
  return role;
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
  const out: RecordedMessage = { role: roleOf(m, at, warnings), text: "", calls: [], results: [], at };
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
        args: argumentsOf(p.arguments, pAt, warnings),
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

/**
 * The content of an AI SDK tool result part's `output` (`LanguageModelV2ToolResultOutput`):
 * `{type: "text" | "error-text", value}` is the text, `{type: "json" | "error-json", value}` its
 * JSON, `{type: "content", value: [{type: "text", text} | {type: "media", data, mediaType}]}` its
 * texts (media as JSON); an older `result` field is read as a result. Errors carry the content as
 * the error too.
 */
function aiToolOutput(p: Record<string, unknown>): { content: string; error: string | null } {
  const o = p.output;
  if (!isObject(o)) return { content: resultText(p.result ?? o), error: null };
  let content: string;
  if (o.type === "text" || o.type === "error-text") content = text(o.value);
  else if (o.type === "json" || o.type === "error-json") content = JSON.stringify(o.value ?? null);
  else if (o.type === "content" && Array.isArray(o.value))
    content = o.value
      .map((b) =>
        isObject(b) && b.type === "text" && typeof b.text === "string" ? b.text : JSON.stringify(b),
      )
      .join("\n");
  else content = JSON.stringify(o);
  return { content, error: o.type === "error-text" || o.type === "error-json" ? content : null };
}

/**
 * One AI SDK prompt message (`LanguageModelV2Message` in `ai.prompt.messages`, `ModelMessage` in
 * `ai.prompt`): `content` is a string, or parts: `text` and `reasoning` (`text`) make its text,
 * `tool-call` (`toolCallId`, `toolName`, `input` as an object or a JSON string; `args` before
 * AI SDK 5) its calls, `tool-result` (`toolCallId`, `toolName`, `output`) its results; other parts
 * (`file`, `image`) contribute their JSON.
 */
function aiMessage(m: Record<string, unknown>, at: string, warnings: string[]): RecordedMessage {
  const out: RecordedMessage = { role: roleOf(m, at, warnings), text: "", calls: [], results: [], at };
  if (!Array.isArray(m.content)) {
    out.text = text(m.content);
    return out;
  }
  const texts: string[] = [];
  for (const [j, p] of m.content.entries()) {
    const pAt = `${at}.content[${j}]`;
    if (!isObject(p)) texts.push(text(p));
    else if ((p.type === "text" || p.type === "reasoning") && typeof p.text === "string") texts.push(p.text);
    else if (p.type === "tool-call") {
      out.calls.push({
        id: idOf(p.toolCallId),
        name: typeof p.toolName === "string" ? p.toolName : "",
        args: argumentsOf(p.input ?? p.args, pAt, warnings),
        at: pAt,
      });
    } else if (p.type === "tool-result") {
      out.results.push({
        id: idOf(p.toolCallId),
        name: typeof p.toolName === "string" ? p.toolName : null,
        ...aiToolOutput(p),
        at: pAt,
      });
    } else texts.push(JSON.stringify(p));
  }
  out.text = texts.join("\n");
  return out;
}

/** The messages of `ai.prompt.messages` (the prompt of one model call), a JSON string. */
function aiPromptMessages(span: Span, warnings: string[]): RecordedMessage[] {
  const d = decoded(span, "ai.prompt.messages", warnings);
  if (!d) return [];
  if (!Array.isArray(d.value)) {
    warnings.push(`invalid_messages: ${d.at} (ai.prompt.messages) is not a list; skipped`);
    return [];
  }
  const out: RecordedMessage[] = [];
  for (const [i, m] of d.value.entries()) {
    if (isObject(m)) out.push(aiMessage(m, `${d.base}[${i}]`, warnings));
    else warnings.push(`skipped: ${d.base}[${i}] is not a message object`);
  }
  return out;
}

/**
 * The prompt of a whole AI SDK call, `ai.prompt`: the JSON of `{system, prompt, messages}` as
 * given to `generateText` (`prompt` a string or a message list).
 */
function aiPrompt(span: Span, warnings: string[]): RecordedMessage[] {
  const d = decoded(span, "ai.prompt", warnings);
  if (!d) return [];
  if (!isObject(d.value)) {
    warnings.push(`invalid_messages: ${d.at} (ai.prompt) is not an object; skipped`);
    return [];
  }
  const out: RecordedMessage[] = [];
  const { system, prompt, messages } = d.value;
  if (typeof system === "string")
    out.push({ role: "system", text: system, calls: [], results: [], at: `${d.base}.system` });
  if (typeof prompt === "string")
    out.push({ role: "user", text: prompt, calls: [], results: [], at: `${d.base}.prompt` });
  for (const [field, list] of [
    ["prompt", prompt],
    ["messages", messages],
  ] as const) {
    if (!Array.isArray(list)) continue;
    for (const [i, m] of list.entries()) {
      if (isObject(m)) out.push(aiMessage(m, `${d.base}.${field}[${i}]`, warnings));
      else warnings.push(`skipped: ${d.base}.${field}[${i}] is not a message object`);
    }
  }
  return out;
}

/**
 * The model's answer on an AI SDK span, as one assistant message: `ai.response.text` (or
 * `ai.response.object`, the JSON of a generated object) and `ai.response.toolCalls` (the JSON of
 * `[{toolCallId, toolName, input}]`, `input` a JSON string). None when neither is recorded.
 */
function aiResponse(span: Span, warnings: string[]): RecordedMessage[] {
  const textAttr = span.attributes.get("ai.response.text") ?? span.attributes.get("ai.response.object");
  const calls = decoded(span, "ai.response.toolCalls", warnings);
  if (!textAttr && !calls) return [];
  const out: RecordedMessage = {
    role: "assistant",
    text: textAttr ? text(textAttr.value) : "",
    calls: [],
    results: [],
    at: textAttr?.at ?? calls?.at ?? span.at,
  };
  if (calls && !Array.isArray(calls.value))
    warnings.push(`invalid_messages: ${calls.at} (ai.response.toolCalls) is not a list; skipped`);
  else if (calls) {
    for (const [i, c] of (calls.value as unknown[]).entries()) {
      const cAt = `${calls.base}[${i}]`;
      if (!isObject(c)) {
        warnings.push(`skipped: ${cAt} is not a tool call object`);
        continue;
      }
      out.calls.push({
        id: idOf(c.toolCallId),
        name: typeof c.toolName === "string" ? c.toolName : "",
        args: argumentsOf(c.input ?? c.args, cAt, warnings),
        at: cAt,
      });
    }
  }
  return [out];
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

/** What a span contributes, read once, before the spans are replayed in time order. */
type Reading =
  | { kind: "inference"; input: RecordedMessage[]; output: RecordedMessage[] }
  | { kind: "agent"; input: RecordedMessage[]; output: RecordedMessage[] }
  | {
      kind: "tool";
      id: string | null;
      name: string;
      args: JsonValue;
      result: { content: string; error: string | null };
      callAt: string;
      resultAt: string;
    }
  | { kind: "none" };

function stringAttr(span: Span, key: string): string | undefined {
  const v = span.attributes.get(key)?.value;
  return typeof v === "string" ? v : undefined;
}

/** Reads one span by its GenAI operation name, else by its AI SDK operation id. */
function read(span: Span, warnings: string[]): Reading {
  const op = stringAttr(span, "gen_ai.operation.name");
  const aiOp = stringAttr(span, "ai.operationId");
  const genaiMessages = (): RecordedMessage[][] => [
    [
      ...messagesOf(span, "gen_ai.system_instructions", warnings),
      ...messagesOf(span, "gen_ai.input.messages", warnings),
    ],
    messagesOf(span, "gen_ai.output.messages", warnings),
  ];
  if (op !== undefined && (INFERENCE.has(op) || AGENT.has(op))) {
    const [input = [], output = []] = genaiMessages();
    return { kind: INFERENCE.has(op) ? "inference" : "agent", input, output };
  }
  if (op === "execute_tool" || aiOp === "ai.toolCall") {
    const sdk = op !== "execute_tool";
    const name = stringAttr(span, sdk ? "ai.toolCall.name" : "gen_ai.tool.name");
    const args = span.attributes.get(sdk ? "ai.toolCall.args" : "gen_ai.tool.call.arguments");
    const result = span.attributes.get(sdk ? "ai.toolCall.result" : "gen_ai.tool.call.result");
    const callAt = args?.at ?? span.at;
    return {
      kind: "tool",
      id: idOf(span.attributes.get(sdk ? "ai.toolCall.id" : "gen_ai.tool.call.id")?.value),
      name: name ?? "",
      args: args ? argumentsOf(args.value, callAt, warnings) : {},
      result: { content: result ? resultText(result.value) : "", error: spanError(span) },
      callAt,
      resultAt: result?.at ?? span.at,
    };
  }
  if (aiOp !== undefined && AI_SDK_INFERENCE.has(aiOp))
    return { kind: "inference", input: aiPromptMessages(span, warnings), output: aiResponse(span, warnings) };
  if (aiOp !== undefined && AI_SDK_CALL.has(aiOp))
    return { kind: "agent", input: aiPrompt(span, warnings), output: aiResponse(span, warnings) };
  for (const key of CONTENT_KEYS) {
    const attr = span.attributes.get(key);
    if (attr)
      warnings.push(
        `skipped: ${attr.at} (${key}) is on a span that is no inference, agent or tool span (operation ${JSON.stringify(op ?? aiOp ?? null)})`,
      );
  }
  return { kind: "none" };
}

/**
 * What the inference and tool spans of a trace (and the agent spans read so far) already say: how
 * many times one span holds each message text (by role), and the ids of the calls and results.
 */
class Known {
  private readonly texts = new Map<string, number>();
  private readonly calls = new Set<string>();
  private readonly results = new Set<string>();

  private static textKey(m: RecordedMessage): string | null {
    return m.text === "" ? null : JSON.stringify([m.role, m.text]);
  }

  /** Takes in the messages of one span: each text count is raised to its count there. */
  add(list: readonly RecordedMessage[]): void {
    const counts = new Map<string, number>();
    for (const m of list) {
      const k = Known.textKey(m);
      if (k !== null) counts.set(k, (counts.get(k) ?? 0) + 1);
      for (const c of m.calls) if (c.id !== null) this.calls.add(c.id);
      for (const r of m.results) if (r.id !== null) this.results.add(r.id);
    }
    for (const [k, n] of counts) this.texts.set(k, Math.max(this.texts.get(k) ?? 0, n));
  }

  /** Takes in a tool execution's call id (its call and its result). */
  addExecution(id: string | null): void {
    if (id === null) return;
    this.calls.add(id);
    this.results.add(id);
  }

  /**
   * What an agent span's messages add: each message cut down to its new parts (its text when this
   * is an occurrence of it beyond those known; calls and results whose ids are not known, and
   * those without an id); messages with nothing new are dropped. Then takes the list in.
   */
  fresh(list: readonly RecordedMessage[]): RecordedMessage[] {
    const seen = new Map<string, number>();
    const out: RecordedMessage[] = [];
    for (const m of list) {
      const k = Known.textKey(m);
      let text = "";
      if (k !== null) {
        const n = (seen.get(k) ?? 0) + 1;
        seen.set(k, n);
        if (n > (this.texts.get(k) ?? 0)) text = m.text;
      }
      const calls = m.calls.filter((c) => c.id === null || !this.calls.has(c.id));
      const results = m.results.filter((r) => r.id === null || !this.results.has(r.id));
      if (text !== "" || calls.length > 0 || results.length > 0) out.push({ ...m, text, calls, results });
    }
    this.add(list);
    return out;
  }
}

/** A point in time of a span: its start (phase 0), or the end of an agent span (phase 1). */
interface Moment {
  time: bigint;
  phase: 0 | 1;
  depth: number;
  span: Span;
  reading: Reading;
}

function compareMoments(a: Moment, b: Moment): number {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  // At the same time, starts come before ends; outer spans start first and end last.
  if (a.phase !== b.phase) return a.phase - b.phase;
  if (a.depth !== b.depth) return a.phase === 0 ? a.depth - b.depth : b.depth - a.depth;
  if (a.span.spanId !== b.span.spanId) return a.span.spanId < b.span.spanId ? -1 : 1;
  return a.span.order - b.span.order;
}

/** Nesting depth of each span in its trace (0 for a root or a span whose parent is absent). */
function depths(spans: readonly Span[]): Map<Span, number> {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const out = new Map<Span, number>();
  for (const s of spans) {
    let d = 0;
    const seen = new Set<string>([s.spanId]);
    for (let p = byId.get(s.parentSpanId); p && !seen.has(p.spanId); p = byId.get(p.parentSpanId)) {
      seen.add(p.spanId);
      d++;
    }
    out.set(s, d);
  }
  return out;
}

function importTrace(spans: Span[], builder: TraceBuilder): void {
  const depth = depths(spans);
  const none: Reading = { kind: "none" };
  const starts = spans
    .map((span): Moment => ({ time: span.start, phase: 0, depth: depth.get(span) ?? 0, span, reading: none }))
    .sort(compareMoments);
  const moments: Moment[] = [];
  // Each span's reading warnings are given when the replay reaches its start, so that they come
  // in the order of the conversation, among the assembler's own.
  const readWarnings = new Map<Span, string[]>();
  for (const start of starts) {
    const warnings: string[] = [];
    const reading = read(start.span, warnings);
    readWarnings.set(start.span, warnings);
    moments.push({ ...start, reading });
    if (reading.kind === "agent") {
      const end = start.span.end > start.span.start ? start.span.end : start.span.start;
      moments.push({ ...start, time: end, phase: 1, reading });
    }
  }
  moments.sort(compareMoments);
  // What inference and tool spans say is the conversation; an agent span's messages add only
  // what they do not say (see Known.fresh).
  const known = new Known();
  for (const { reading } of moments) {
    if (reading.kind === "inference") known.add([...reading.input, ...reading.output]);
    else if (reading.kind === "tool") known.addExecution(reading.id);
  }
  const conversation = new ConversationAssembler(builder);
  // The assembler's history (the last inference call's input and output), so that messages added
  // from agent spans extend it instead of restarting it.
  let history: RecordedMessage[] = [];
  for (const { phase, reading, span } of moments) {
    if (phase === 0) builder.warnings.push(...(readWarnings.get(span) ?? []));
    if (reading.kind === "inference") {
      conversation.inference(reading.input, reading.output);
      history = [...reading.input, ...reading.output];
    } else if (reading.kind === "agent") {
      const fresh = known.fresh(phase === 0 ? reading.input : reading.output);
      if (fresh.length > 0) {
        conversation.inference([...history, ...fresh], []);
        history = [...history, ...fresh];
      }
    } else if (reading.kind === "tool") {
      conversation.execution(
        reading.id,
        reading.name,
        reading.args,
        reading.result,
        reading.callAt,
        reading.resultAt,
      );
    }
  }
}

/**
 * OpenTelemetry GenAI spans in OTLP JSON. Sources: the OTLP JSON encoding
 * (opentelemetry-proto `opentelemetry/proto/trace/v1/trace.proto`, "JSON Protobuf Encoding" in
 * the OTLP specification: `resourceSpans[].scopeSpans[].spans[]`, attributes as `{key, value:
 * AnyValue}`, 64-bit integers as decimal strings, ids as hex); the OpenTelemetry semantic
 * conventions for generative AI (`docs/gen-ai/gen-ai-spans.md`, `docs/gen-ai/gen-ai-agent-spans.md`
 * v1.37 on, and the JSON schemas `gen-ai-input-messages.json` / `gen-ai-output-messages.json` /
 * `gen-ai-system-instructions.json` of open-telemetry/semantic-conventions); and the AI SDK's own
 * telemetry (ai-sdk.dev "AI SDK Core: Telemetry", and `packages/ai/src/generate-text/generate-text.ts`
 * of vercel/ai 5.x, which sets the attributes).
 *
 * - Inference spans (`gen_ai.operation.name` `chat`, `text_completion`, `generate_content`) carry
 *   `gen_ai.input.messages` and `gen_ai.output.messages`, lists of `{role, parts: [{type: "text",
 *   content} | {type: "tool_call", id, name, arguments} | {type: "tool_call_response", id,
 *   response} | ...]}` as JSON strings, and `gen_ai.system_instructions`.
 * - Agent spans (`invoke_agent`, `invoke_workflow`) may carry the same three attributes: the
 *   agent's input (read at the span's start) and output (read at its end). Inference spans say
 *   what the conversation is; an agent span's message is added only where no inference span (and
 *   no agent span read before) holds it as many times: the n-th occurrence of a message text (by
 *   role) on an agent span is new when no inference span holds it n times, and its calls and
 *   results are new when no inference or `execute_tool` span holds their ids (AI SDK 7's
 *   `@ai-sdk/otel` gathers every step of the run in one output message).
 * - `execute_tool` spans carry `gen_ai.tool.name`, `gen_ai.tool.call.id`,
 *   `gen_ai.tool.call.arguments` and `gen_ai.tool.call.result`.
 * - AI SDK spans (no `gen_ai.operation.name`; `ai.operationId`): `ai.generateText.doGenerate` and
 *   the other model calls are inference spans (`ai.prompt.messages`, the JSON of the
 *   `LanguageModelV2Prompt`; `ai.response.text` / `ai.response.object` and `ai.response.toolCalls`
 *   as the answer); `ai.generateText` and the other outer calls are agent spans (`ai.prompt`, the
 *   JSON of `{system, prompt, messages}`, and the final `ai.response.*`); `ai.toolCall` spans are
 *   executions (`ai.toolCall.name`, `.id`, `.args`, `.result`, the last two JSON).
 *
 * A tool result recorded as a JSON string literal (`"\"sunny\""`, what `JSON.stringify` of a
 * string gives) is the string it encodes; arguments JSON-encoded twice are parsed twice. Content
 * attributes on any other span (`embeddings`, `ai.embed`, ...) are named in `skipped:` warnings.
 * Spans are ordered by `startTimeUnixNano` as a BigInt (nanosecond times exceed 2^53; an agent
 * span's end by `endTimeUnixNano`), at equal times starts before ends, outer spans (by
 * `parentSpanId`) start first and end last, then span id, then file order; one trace per OTLP
 * `traceId`, in order of first appearance (case ids `#N` when a document holds several).
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
      const builder = new TraceBuilder();
      if (n === 0) builder.warnings.push(...warnings);
      importTrace(spans, builder);
      const caseId = groups.size > 1 ? `${ctx.caseId}#${n}` : ctx.caseId;
      return builder.build(caseId, "otel", ctx.file, traceId === "" ? {} : { otel_trace_id: traceId });
    });
  },
};
