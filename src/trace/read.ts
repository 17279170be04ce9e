import { inputError } from "../errors.js";
import { agentdojo } from "./formats/agentdojo.js";
import { anthropic } from "./formats/anthropic.js";
import type { Detection, ImportContext, TraceFormat } from "./formats/common.js";
import { langchain } from "./formats/langchain.js";
import { importMcpEntries, inspectMcpEntry, type McpEntry, mcp } from "./formats/mcp.js";
import { openai } from "./formats/openai.js";
import { openaiResponses } from "./formats/openai-responses.js";
import { otel } from "./formats/otel.js";
import { isProofHeader, ProofTraceAssembler } from "./formats/proof.js";
import { tauBench } from "./formats/tau-bench.js";
import { parseJson } from "./json.js";
import type { FormatName, Trace } from "./model.js";

/**
 * Formats of whole JSON documents. `--format auto` asks every one: exactly one must accept a
 * document, so each `detect` is specific (docs/traces.md, "Detection"); the order is only that of
 * listings.
 */
export const DOCUMENT_FORMATS: readonly TraceFormat[] = [
  agentdojo,
  tauBench,
  openai,
  openaiResponses,
  anthropic,
  mcp,
  otel,
  langchain,
];

/** Every format name `--format` accepts. */
export const FORMAT_NAMES: readonly (FormatName | "auto")[] = [
  "auto",
  "proof",
  ...DOCUMENT_FORMATS.map((f) => f.name),
];

/**
 * One trace file as the reader sees it; file-system access is injected (src/io provides it).
 * `rel` is the path relative to the traces root: the base of every case id from this file.
 */
export interface TraceSource {
  path: string;
  rel: string;
  /** The whole file as text (for `.json`). */
  text(): Promise<string>;
  /** The file line by line (for `.jsonl`), streaming. */
  lines(): AsyncIterable<{ text: string; line: number }>;
}

/** One format's verdict on a document, for detection and `--explain`. */
export interface FormatVerdict extends Detection {
  format: FormatName;
}

/** Verdict of a format that cannot say why (a bare `detect`). */
function verdictOf(f: TraceFormat, doc: unknown): FormatVerdict {
  if (f.inspect) return { format: f.name, ...f.inspect(doc) };
  const ok = f.detect(doc);
  return { format: f.name, ok, reason: ok ? "its detector accepts the document" : "its detector rejects it" };
}

/**
 * Every format's verdict on a document: on the whole document of a `.json` file, or on the first
 * line of a `.jsonl` file (`line` given), where `proof` headers and MCP messages claim the whole
 * file and any other line is one document.
 */
export function verdicts(doc: unknown, line?: number): FormatVerdict[] {
  const where = line === undefined ? "the document" : `line ${line}`;
  const proof: FormatVerdict =
    line === undefined
      ? { format: "proof", ok: false, reason: "canonical proof traces are JSON Lines (.jsonl), not .json" }
      : isProofHeader(doc)
        ? { format: "proof", ok: true, reason: `${where} is a proof.trace/v1 header ("type": "trace")` }
        : { format: "proof", ok: false, reason: `${where} is not a header with "type": "trace"` };
  return [
    proof,
    ...DOCUMENT_FORMATS.map((f) =>
      f === mcp && line !== undefined
        ? { format: f.name, ...inspectMcpEntry(doc, where) }
        : verdictOf(f, doc),
    ),
  ];
}

/** The formats that accept a document. */
function accepted(doc: unknown, line?: number): FormatName[] {
  return verdicts(doc, line)
    .filter((v) => v.ok)
    .map((v) => v.format);
}

/** @throws ProofError `trace.ambiguous_format` (exit 6) naming the candidates. */
function ambiguous(names: readonly FormatName[], file: string, line?: number): never {
  throw inputError(
    "trace.ambiguous_format",
    `ambiguous trace format: ${names.join(", ")} all accept it`,
    { file, ...(line === undefined ? {} : { line, column: 1 }) },
    `name one with --format ${names.join("|")}; proof import --explain ${file} says why each accepts it`,
  );
}

function pickFormat(doc: unknown, format: FormatName | "auto", file: string, line?: number): TraceFormat {
  const location = { file, ...(line === undefined ? {} : { line, column: 1 }) };
  if (format === "auto") {
    const names = DOCUMENT_FORMATS.filter((f) => f.detect(doc)).map((f) => f.name);
    if (names.length > 1) ambiguous(names, file, line);
    const found = DOCUMENT_FORMATS.find((f) => f.name === names[0]);
    if (found) return found;
    throw inputError(
      "trace.unknown_format",
      "not a recognised trace format",
      location,
      `expected one of: ${FORMAT_NAMES.filter((n) => n !== "auto").join(", ")}; name it with --format, or see proof import --explain ${file}`,
    );
  }
  const chosen = DOCUMENT_FORMATS.find((f) => f.name === format);
  if (!chosen?.detect(doc)) {
    throw inputError("trace.wrong_format", `not in the ${format} trace format`, location);
  }
  return chosen;
}

/** One importer warning of a file, with the case it belongs to. */
export interface ImportWarning {
  case_id: string;
  /** `skipped: <address> <why>`, `orphan_result: ...`, ... (docs/traces.md, "Nothing silent"). */
  message: string;
}

/** What importing a file gave, for `--explain`: how many traces and every warning, in order. */
export interface ImportOutcome {
  format: FormatName;
  traces: number;
  warnings: ImportWarning[];
}

/** What `proof import --explain` says about one file. */
export interface Explanation {
  file: string;
  /** What was judged: the whole document, or the first line of a JSON Lines file. */
  basis: string;
  /** The one format that accepts it, or null (none, or several: see `verdicts`). */
  detected: FormatName | null;
  verdicts: FormatVerdict[];
  /**
   * The import in the detected (or named) format: its traces and every warning, so that what the
   * importer skipped is listed with its address; null when no single format reads the file.
   */
  imported: ImportOutcome | null;
}

/**
 * Imports one file and keeps only what the import says about it: the number of traces and every
 * warning, unbounded (the explanation lists them all; `proof import` prints the first few).
 * @throws ProofError (exit 6) as `readTraces` does.
 */
export async function importOutcome(
  source: TraceSource,
  format: FormatName | "auto",
): Promise<ImportOutcome> {
  const out: ImportOutcome = { format: format === "auto" ? "proof" : format, traces: 0, warnings: [] };
  for await (const t of readTraces(source, format)) {
    out.format = t.header.source.format;
    out.traces++;
    for (const message of t.warnings) out.warnings.push({ case_id: t.header.case_id, message });
  }
  return out;
}

/**
 * Explains one file: every format's verdict on the document (`.json`) or on the first non-empty
 * line (`.jsonl`, which decides how the rest is read), then, when one format reads it (detected,
 * or named by `format`), the outcome of importing it in that format with every warning.
 * @throws ProofError (exit 6) for an empty file, invalid JSON, or a file that the chosen format
 *   fails to import (located as `proof import` locates it).
 */
export async function explainSource(
  source: TraceSource,
  format: FormatName | "auto" = "auto",
): Promise<Explanation> {
  let doc: unknown;
  let line: number | undefined;
  let basis: string;
  if (source.path.endsWith(".jsonl")) {
    for await (const l of source.lines()) {
      if (l.text.trim() === "") continue;
      doc = parseJson(l.text, source.path, l.line);
      line = l.line;
      break;
    }
    if (line === undefined) throw inputError("trace.empty", "empty trace file", { file: source.path });
    basis = `line ${line}, the first of a JSON Lines file`;
  } else {
    const text = await source.text();
    if (text.trim() === "") throw inputError("trace.empty", "empty trace file", { file: source.path });
    doc = parseJson(text, source.path);
    basis = "the whole JSON document";
  }
  const all = verdicts(doc, line);
  const ok = all.filter((v) => v.ok);
  const detected = ok.length === 1 ? (ok[0]?.format ?? null) : null;
  const chosen = format === "auto" ? detected : format;
  return {
    file: source.path,
    basis,
    detected,
    verdicts: all,
    imported: chosen === null ? null : await importOutcome(source, chosen),
  };
}

/**
 * Reads every trace in one file, one at a time (docs/traces.md): a `.jsonl` file streams line by
 * line, either canonical `proof` lines (header, events, header, ...) or one document per line; a
 * `.json` file is one document, which may hold several traces (tau-bench arrays). Case ids get
 * `#N` (0-based) where a file holds several traces.
 * @throws ProofError (exit 6) with file and line for invalid JSON, an unknown or wrong format, or
 *   an invalid canonical event.
 */
export async function* readTraces(
  source: TraceSource,
  format: FormatName | "auto" = "auto",
): AsyncGenerator<Trace> {
  if (source.path.endsWith(".jsonl")) {
    yield* readJsonLines(source, format);
    return;
  }
  const text = await source.text();
  if (text.trim() === "") throw inputError("trace.empty", "empty trace file", { file: source.path });
  const doc = parseJson(text, source.path);
  if (format === "proof" || isProofHeader(doc)) {
    throw inputError("trace.wrong_format", "canonical proof traces are JSON Lines (.jsonl)", {
      file: source.path,
    });
  }
  const ctx: ImportContext = { file: source.path, caseId: source.rel, prefix: "" };
  yield* pickFormat(doc, format, source.path).import(doc, ctx);
}

async function* readJsonLines(source: TraceSource, format: FormatName | "auto"): AsyncGenerator<Trace> {
  let assembler: ProofTraceAssembler | undefined;
  // An MCP log: every line is one entry of the file's single trace.
  let mcpEntries: McpEntry[] | undefined;
  let documents = 0;
  let sawAny = false;
  for await (const { text, line } of source.lines()) {
    if (text.trim() === "") continue;
    const doc = parseJson(text, source.path, line);
    if (!sawAny) {
      sawAny = true;
      // The first line decides how the whole file is read.
      const names = format === "auto" ? accepted(doc, line) : [format];
      if (names.length > 1) ambiguous(names, source.path, line);
      if (names[0] === "proof") assembler = new ProofTraceAssembler(source.path);
      else if (names[0] === "mcp") {
        if (!inspectMcpEntry(doc, "").ok)
          throw inputError("trace.wrong_format", "not in the mcp trace format", {
            file: source.path,
            line,
            column: 1,
          });
        mcpEntries = [];
      }
    }
    if (assembler) {
      const done = assembler.push(doc, line);
      if (done) yield done;
      continue;
    }
    if (mcpEntries) {
      mcpEntries.push({ entry: doc, at: `lines[${line - 1}]` });
      continue;
    }
    // One document per line: each is its own trace (or several), numbered through the file.
    const ctx: ImportContext = {
      file: source.path,
      caseId: `${source.rel}#${documents}`,
      prefix: `lines[${line - 1}]`,
    };
    documents++;
    yield* pickFormat(doc, format, source.path, line).import(doc, ctx);
  }
  if (assembler) {
    const last = assembler.finish();
    if (last) yield last;
  }
  if (mcpEntries) yield importMcpEntries(mcpEntries, source.rel, source.path);
  if (!sawAny) throw inputError("trace.empty", "empty trace file", { file: source.path });
}
