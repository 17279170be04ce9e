import type { JsonValue } from "../../policy/ir.js";
import type { FormatName, Trace } from "../model.js";

/** What an importer gets besides the parsed document. */
export interface ImportContext {
  /** Path of the source file as given, `/`-separated. */
  file: string;
  /** Case id of the document (file path relative to the traces root, with `#N` when one of several). */
  caseId: string;
  /** Address prefix of the document inside the file (`[3]` for the 4th array element, "" for the whole file). */
  prefix: string;
}

/** A detector's verdict on one document and the reason for it (the keys and shapes it saw). */
export interface Detection {
  ok: boolean;
  reason: string;
}

/**
 * A trace format: `detect` says whether a parsed JSON document is of this format; `import` turns
 * it into canonical traces (one per conversation it holds).
 */
export interface TraceFormat {
  name: FormatName;
  /**
   * Whether a JSON document (an object or array) looks like this format. Must not throw, and
   * must be specific: `--format auto` refuses a document that two formats accept.
   */
  detect(doc: unknown): boolean;
  /** `detect` with its reason, for `proof import --explain`; formats without it show the bare verdict. */
  inspect?(doc: unknown): Detection;
  /** Converts the document; ctx.caseId is suffixed `#N` by the importer for multi-trace documents. */
  import(doc: unknown, ctx: ImportContext): Trace[];
}

/** Whether a value is a plain JSON object. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Text of a message's content, whatever its shape: a string; null (""); or a list of blocks
 * (`{type: "text", text}` in OpenAI and Anthropic, `{type: "text", content}` in AgentDojo),
 * joined with newlines. Non-text blocks contribute their JSON so nothing a model saw is lost.
 */
export function contentText(content: unknown): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((block) => {
        if (typeof block === "string") return block;
        if (isObject(block)) {
          if (typeof block.text === "string") return block.text;
          if (typeof block.content === "string") return block.content;
        }
        return JSON.stringify(block);
      })
      .join("\n");
  }
  return JSON.stringify(content);
}

/** Coerces an id field: strings kept, numbers stringified, anything else null. */
export function idOf(v: unknown): string | null {
  if (typeof v === "string" && v !== "") return v;
  if (typeof v === "number") return String(v);
  return null;
}

/** A JSON value as given (tool arguments that are already objects). */
export function asJson(v: unknown): JsonValue {
  return (v === undefined ? null : v) as JsonValue;
}

/**
 * Parses OpenAI-style `arguments`, a JSON string. A string that is not valid JSON is kept as the
 * string itself (with a warning), so the call is still decided and provenance still sees it.
 */
export function parseArguments(raw: unknown, at: string, warnings: string[]): JsonValue {
  if (typeof raw !== "string") return asJson(raw ?? {});
  if (raw.trim() === "") return {};
  try {
    return JSON.parse(raw) as JsonValue;
  } catch {
    warnings.push(`invalid_arguments: ${at} has arguments that are not valid JSON; kept as a string`);
    return raw;
  }
}

/** A positive verdict. */
export function accept(reason: string): Detection {
  return { ok: true, reason };
}

/** A negative verdict. */
export function reject(reason: string): Detection {
  return { ok: false, reason };
}

/** Short description of a JSON value's shape for verdicts: `an array`, `a string`, `null`, ... */
export function shapeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return v.length === 0 ? "an empty array" : "an array";
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
}
