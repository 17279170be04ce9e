/** Shared helpers of the importer tests: in-memory trace sources and `at` address resolution. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { listTraceFiles } from "../../src/io/files.js";
import { traceSource } from "../../src/io/trace-files.js";
import type { FormatName, Trace } from "../../src/trace/model.js";
import { readTraces, type TraceSource } from "../../src/trace/read.js";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The real AgentDojo runs and the tau-bench trajectory file (fixtures/corpus/README.md). */
export const AGENTDOJO_RUNS = join(ROOT, "fixtures/corpus/agentdojo/runs");
export const TAU_BENCH_FILE = join(ROOT, "fixtures/corpus/tau-bench/gpt-4o-airline.json");

/** A trace file held in memory; `lines()` splits the text as the file reader would. */
export function memorySource(path: string, text: string, rel = path): TraceSource {
  return {
    path,
    rel,
    text: async () => text,
    async *lines() {
      const lines = text.split(/\r?\n/);
      if (lines.at(-1) === "") lines.pop();
      for (const [i, line] of lines.entries()) yield { text: line, line: i + 1 };
    },
  };
}

/** Every trace of a source, in order. */
export async function readAll(source: TraceSource, format: FormatName | "auto" = "auto"): Promise<Trace[]> {
  const out: Trace[] = [];
  for await (const t of readTraces(source, format)) out.push(t);
  return out;
}

/** Reads a JSON document given in memory (the name decides `.json` or `.jsonl` handling). */
export function readDoc(name: string, doc: unknown, format: FormatName | "auto" = "auto"): Promise<Trace[]> {
  return readAll(memorySource(name, JSON.stringify(doc, null, 2)), format);
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await p;
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  throw new Error("expected a rejection");
}

/** Real trace files under a directory, as `verify` finds them. */
export async function corpusFiles(
  root: string,
): Promise<{ path: string; rel: string; source: TraceSource }[]> {
  return (await listTraceFiles(root)).map((f) => ({ path: f.path, rel: f.rel, source: traceSource(f) }));
}

/** Parses a JSON file from disk. */
export function loadJson(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf8"));
}

/**
 * Parses a trace file from disk as `at` addresses see it: a `.json` file is its document; a
 * `.jsonl` file is `{lines: [...]}`, one parsed value per line (null for a blank line), so that
 * `lines[4].message` resolves.
 */
export function loadSource(path: string): unknown {
  if (!path.endsWith(".jsonl")) return loadJson(path);
  const lines = readFileSync(path, "utf8").split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return { lines: lines.map((l) => (l.trim() === "" ? null : JSON.parse(l))) };
}

/** The hand-written format fixtures (fixtures/formats/README.md). */
export const FORMAT_FIXTURES = join(ROOT, "fixtures/formats");

/**
 * Follows an event's `at` address (`messages[2].tool_calls[0]`, `[3].traj[1]`) into a parsed
 * document. A step into a string steps into the JSON it holds (OpenTelemetry records messages as
 * JSON strings: `attributes[4].value.stringValue[0].parts[1]`). Throws when a step does not
 * exist, so a wrong address fails the test.
 */
export function resolveAt(doc: unknown, at: string): unknown {
  let node = doc;
  let rest = at;
  while (rest !== "") {
    const m = /^(?:\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\])/.exec(rest);
    if (!m) throw new Error(`bad address ${at} at '${rest}'`);
    if (typeof node === "string") node = JSON.parse(node);
    if (m[1] !== undefined) {
      if (node === null || typeof node !== "object" || Array.isArray(node) || !(m[1] in node))
        throw new Error(`${at}: no key ${m[1]}`);
      node = (node as Record<string, unknown>)[m[1]];
    } else {
      const i = Number(m[2]);
      if (!Array.isArray(node) || i >= node.length) throw new Error(`${at}: no index ${i}`);
      node = node[i];
    }
    rest = rest.slice(m[0].length);
  }
  return node;
}
