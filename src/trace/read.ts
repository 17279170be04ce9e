import { inputError } from "../errors.js";
import { agentdojo } from "./formats/agentdojo.js";
import type { ImportContext, TraceFormat } from "./formats/common.js";
import { openai } from "./formats/openai.js";
import { isProofHeader, ProofTraceAssembler } from "./formats/proof.js";
import { tauBench } from "./formats/tau-bench.js";
import { parseJson } from "./json.js";
import type { FormatName, Trace } from "./model.js";

/** Formats of whole JSON documents, most specific first: detection takes the first that fits. */
export const DOCUMENT_FORMATS: readonly TraceFormat[] = [agentdojo, tauBench, openai];

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

function pickFormat(doc: unknown, format: FormatName | "auto", file: string, line?: number): TraceFormat {
  const location = { file, ...(line === undefined ? {} : { line, column: 1 }) };
  if (format === "auto") {
    const found = DOCUMENT_FORMATS.find((f) => f.detect(doc));
    if (found) return found;
    throw inputError(
      "trace.unknown_format",
      "not a recognised trace format",
      location,
      `expected one of: ${FORMAT_NAMES.filter((n) => n !== "auto").join(", ")}; name it with --format`,
    );
  }
  const chosen = DOCUMENT_FORMATS.find((f) => f.name === format);
  if (!chosen?.detect(doc)) {
    throw inputError("trace.wrong_format", `not in the ${format} trace format`, location);
  }
  return chosen;
}

/**
 * Reads every trace in one file, one at a time (DESIGN.md §5): a `.jsonl` file streams line by
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
  let documents = 0;
  let sawAny = false;
  for await (const { text, line } of source.lines()) {
    if (text.trim() === "") continue;
    const doc = parseJson(text, source.path, line);
    if (!sawAny) {
      sawAny = true;
      if (format === "proof" || (format === "auto" && isProofHeader(doc)))
        assembler = new ProofTraceAssembler(source.path);
    }
    if (assembler) {
      const done = assembler.push(doc, line);
      if (done) yield done;
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
  if (!sawAny) throw inputError("trace.empty", "empty trace file", { file: source.path });
}
