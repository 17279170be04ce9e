/**
 * The conformance property (test/trace/conformance.ts) over every OpenTelemetry fixture: each
 * string of an OTLP file that holds content (message text, a tool name, arguments, a result)
 * appears in the canonical events or in a `skipped:` warning naming its address.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { unaccounted } from "./conformance.js";
import { FORMAT_FIXTURES, loadSource, memorySource, readAll, resolveAt } from "./helpers.js";

const DIR = join(FORMAT_FIXTURES, "otel");
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort();

/** Attributes whose values are content: every string in them must be accounted for. */
const CONTENT = new Set([
  "gen_ai.system_instructions",
  "gen_ai.input.messages",
  "gen_ai.output.messages",
  "gen_ai.tool.name",
  "gen_ai.tool.call.arguments",
  "gen_ai.tool.call.result",
  "ai.prompt",
  "ai.prompt.messages",
  "ai.response.text",
  "ai.response.toolCalls",
  "ai.response.object",
  "ai.toolCall.name",
  "ai.toolCall.args",
  "ai.toolCall.result",
]);

/**
 * Attributes whose values are structure, each for a reason; an attribute in neither list fails
 * the test, so that a new fixture's attributes are classified rather than waved through.
 */
const STRUCTURE = new Set([
  // Which operation a span is, and which model, provider, agent or instrumentation ran it: names
  // chosen by the program, not said by the user, the model or a tool.
  "gen_ai.operation.name",
  "operation.name",
  "ai.operationId",
  "gen_ai.provider.name",
  "gen_ai.system",
  "gen_ai.request.model",
  "gen_ai.response.model",
  "ai.model.id",
  "ai.model.provider",
  "ai.response.model",
  "gen_ai.agent.name",
  "service.name",
  "telemetry.sdk.language",
  "telemetry.sdk.name",
  "telemetry.sdk.version",
  "ai.request.headers.user-agent",
  // Ids, times, counts and finish reasons of a call.
  "gen_ai.tool.call.id",
  "ai.toolCall.id",
  "gen_ai.response.id",
  "ai.response.id",
  "ai.response.timestamp",
  "gen_ai.response.finish_reasons",
  "ai.response.finishReason",
  "gen_ai.usage.input_tokens",
  "gen_ai.usage.output_tokens",
  "ai.usage.promptTokens",
  "ai.usage.completionTokens",
  "ai.settings.maxRetries",
  "gen_ai.client.operation.duration",
  "gen_ai.execute_tool.duration",
  // The kind of a tool (`function`, `extension`, `datastore`).
  "gen_ai.tool.type",
  // The tools offered to the model and the choice among them: definitions, not conversation
  // (no message, call or result).
  "ai.prompt.tools",
  "gen_ai.tool.definitions",
  "ai.prompt.toolChoice",
]);

/**
 * OTLP keys whose strings are structure: ids, times, span and scope names, the instrumentation
 * scope's version, attribute names.
 */
const OTLP_STRUCTURE = new Set([
  "traceId",
  "spanId",
  "parentSpanId",
  "startTimeUnixNano",
  "endTimeUnixNano",
  "name",
  "version",
  "key",
]);

/**
 * The document with every string that is a JSON string literal (`"\"sunny\""`, what
 * `JSON.stringify` of a string result writes) replaced by the string it encodes: the helper steps
 * into strings holding JSON objects and arrays only, and a tool result recorded this way is
 * imported decoded. Addresses do not change (a string stays a string).
 */
function decodeStringLiterals(node: unknown): unknown {
  if (typeof node === "string") {
    if (!node.trimStart().startsWith('"')) return node;
    try {
      const inner: unknown = JSON.parse(node);
      return typeof inner === "string" ? inner : node;
    } catch {
      return node;
    }
  }
  if (Array.isArray(node)) return node.map(decodeStringLiterals);
  if (node !== null && typeof node === "object")
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, decodeStringLiterals(v)]));
  return node;
}

/** Keys inside content attributes that are structure: roles, part types, ids, finish reasons. */
const MESSAGE_STRUCTURE = new Set(["role", "type", "id", "toolCallId", "finish_reason"]);

/** The attribute a leaf belongs to, if any: `...attributes[3]` of its address. */
function attributeOf(doc: unknown, at: string): string | undefined {
  const m = /^(.*?\.attributes\[\d+\])\.value/.exec(at);
  if (!m?.[1]) return undefined;
  return (resolveAt(doc, m[1]) as { key: string }).key;
}

function structural(doc: unknown) {
  return (at: string, key: string | number | undefined): boolean => {
    const attribute = attributeOf(doc, at);
    if (attribute === undefined) return typeof key === "string" && OTLP_STRUCTURE.has(key);
    if (STRUCTURE.has(attribute)) return true;
    if (!CONTENT.has(attribute)) throw new Error(`${at}: attribute ${attribute} is not classified`);
    return typeof key === "string" && MESSAGE_STRUCTURE.has(key);
  };
}

describe("otel conformance: every content string of every fixture is accounted for", () => {
  it("covers the fixtures", () => {
    expect(FILES.length).toBeGreaterThanOrEqual(5);
  });

  it.each(FILES)("%s", async (file) => {
    const path = join(DIR, file);
    const doc = decodeStringLiterals(loadSource(path));
    const traces = await readAll(memorySource(file, readFileSync(path, "utf8")), "otel");
    expect(unaccounted(doc, traces, structural(doc))).toEqual([]);
  });
});
