/**
 * Fuzzing the readers (issue 6): random, mutated and truncated inputs in every document format
 * and in canonical JSON Lines never crash or hang the reader, and never raise anything but a
 * located `ProofError` with exit code 6. What they do import is canonical. Inputs are bounded
 * in size, so a hang would show as the test's own time-out, never as a timing assertion.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProofError } from "../../src/errors.js";
import { validateTraceEvent } from "../../src/generated/validators.js";
import type { FormatName, Trace } from "../../src/trace/model.js";
import { DOCUMENT_FORMATS } from "../../src/trace/read.js";
import { AGENTDOJO_RUNS, memorySource, ROOT, readAll, TAU_BENCH_FILE } from "./helpers.js";

/** Runs per property; `FUZZ_RUNS=2000 npx vitest run test/trace/fuzz.test.ts` searches harder. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);

/** A small real document of each format: its own fixture, or a cut of the real corpus. */
function samples(): Map<string, { name: string; text: string }> {
  const out = new Map<string, { name: string; text: string }>();
  const adRun = readdirSync(AGENTDOJO_RUNS, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".json"))
    .sort()[0] as string;
  out.set("agentdojo", { name: "run.json", text: readFileSync(join(AGENTDOJO_RUNS, adRun), "utf8") });
  const tau = JSON.parse(readFileSync(TAU_BENCH_FILE, "utf8")) as unknown[];
  out.set("tau-bench", { name: "tau.json", text: JSON.stringify(tau.slice(0, 1)) });
  out.set("openai", {
    name: "chat.json",
    text: JSON.stringify([
      { role: "user", content: "pay" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "c", function: { name: "f", arguments: '{"a":1}' } }],
      },
      { role: "tool", tool_call_id: "c", content: "ok" },
    ]),
  });
  for (const f of DOCUMENT_FORMATS) {
    if (out.has(f.name)) continue;
    let files: string[] = [];
    try {
      files = readdirSync(join(ROOT, "fixtures/formats", f.name))
        .filter((x) => /\.jsonl?$/.test(x))
        .sort();
    } catch {
      // No fixtures for this format yet: it is fuzzed with random documents only.
    }
    const file = files.find((x) => x.endsWith(".json")) ?? files[0];
    if (file)
      out.set(f.name, {
        name: file,
        text: readFileSync(join(ROOT, "fixtures/formats", f.name, file), "utf8"),
      });
  }
  out.set("proof", {
    name: "canonical.jsonl",
    text: readFileSync(join(ROOT, "fixtures/formats/otel/expected/weather.jsonl"), "utf8"),
  });
  return out;
}

const SAMPLES = samples();

/** Reads a text as the named file; resolves to the traces or to the error, which must be located exit-6. */
async function readChecked(
  name: string,
  text: string,
  format: FormatName | "auto",
): Promise<Trace[] | ProofError> {
  try {
    const traces = await readAll(memorySource(name, text), format);
    for (const t of traces) {
      // What an importer produces is canonical: the header and every event pass the schema, seq counts up.
      expect(validateTraceEvent(t.header), JSON.stringify(validateTraceEvent.errors)).toBe(true);
      t.events.forEach((e, i) => {
        expect(validateTraceEvent(e), JSON.stringify(validateTraceEvent.errors)).toBe(true);
        expect(e.seq).toBe(i);
      });
    }
    return traces;
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    const e = err as ProofError;
    expect(e.exitCode).toBe(6);
    expect(e.location?.file).toBe(name);
    return e;
  }
}

/** Every path (keys and indexes) of a JSON value, breadth first, at most `limit`. */
function paths(value: unknown, limit = 400): (string | number)[][] {
  const out: (string | number)[][] = [[]];
  for (let i = 0; i < out.length && out.length < limit; i++) {
    const path = out[i] as (string | number)[];
    let node: unknown = value;
    for (const k of path) node = (node as Record<string | number, unknown>)[k];
    if (Array.isArray(node)) for (let j = 0; j < node.length; j++) out.push([...path, j]);
    else if (node !== null && typeof node === "object")
      for (const k of Object.keys(node)) out.push([...path, k]);
  }
  return out.slice(0, limit);
}

/** A copy of `doc` with the value at `path` replaced (or the whole document, for the empty path). */
function replaceAt(doc: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let node = copy;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  node[path.at(-1) as string | number] = value;
  return copy;
}

const json = fc.jsonValue({ maxDepth: 4, depthSize: "small" });
const FORMATS: (FormatName | "auto")[] = ["auto", ...DOCUMENT_FORMATS.map((f) => f.name)];

describe("fuzzing every trace format", () => {
  it("has a real sample of every document format and of canonical JSON Lines", () => {
    expect([...SAMPLES.keys()].sort()).toEqual([...DOCUMENT_FORMATS.map((f) => f.name), "proof"].sort());
  });

  it("random JSON documents, under every --format: imported or refused with a located exit-6 error", async () => {
    await fc.assert(
      fc.asyncProperty(json, fc.constantFrom(...FORMATS), fc.boolean(), async (doc, format, lines) => {
        const text = JSON.stringify(doc) ?? "null";
        await readChecked(lines ? "x.jsonl" : "x.json", text, format);
      }),
      { numRuns: RUNS * 3 },
    );
  });

  for (const [format, sample] of SAMPLES) {
    const jsonl = sample.name.endsWith(".jsonl");
    const forced: FormatName | "auto" = format === "proof" ? "auto" : (format as FormatName);

    it(`${format}: the sample itself imports`, async () => {
      const r = await readChecked(sample.name, sample.text, forced);
      expect(r).not.toBeInstanceOf(ProofError);
      expect((r as Trace[]).length).toBeGreaterThan(0);
    });

    it(`${format}: truncated at any point, it imports or fails located with exit 6`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: sample.text.length }),
          fc.constantFrom("auto", forced),
          async (cut, f) => {
            await readChecked(sample.name, sample.text.slice(0, cut), f as FormatName | "auto");
          },
        ),
        { numRuns: RUNS },
      );
    });

    it(`${format}: any part replaced by random JSON, it imports or fails located with exit 6`, async () => {
      const docs = jsonl
        ? sample.text
            .split("\n")
            .filter((l) => l.trim() !== "")
            .map((l) => JSON.parse(l) as unknown)
        : [JSON.parse(sample.text) as unknown];
      const all = docs.flatMap((d, n) => paths(d).map((p) => ({ n, p })));
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: all.length - 1 }),
          json,
          fc.constantFrom("auto", forced),
          async (i, value, f) => {
            const { n, p } = all[i] as { n: number; p: (string | number)[] };
            const mutated = docs.map((d, k) => (k === n ? replaceAt(d, p, value) : d));
            const text = jsonl
              ? mutated.map((d) => JSON.stringify(d)).join("\n")
              : JSON.stringify(mutated[0]);
            await readChecked(sample.name, text ?? "", f as FormatName | "auto");
          },
        ),
        { numRuns: RUNS },
      );
    });
  }
});
