/**
 * `proof import` writes canonical JSON Lines; reading them back as `proof` must give every trace
 * unchanged: same case id, same trace id, same events. Runs the built CLI on the whole corpus.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { listTraceFiles } from "../../src/io/files.js";
import { traceSource } from "../../src/io/trace-files.js";
import type { Trace } from "../../src/trace/model.js";
import { proof, removeTempDirs, tempDir } from "../e2e/cli.js";
import { AGENTDOJO_RUNS, corpusFiles, memorySource, readAll, TAU_BENCH_FILE } from "./helpers.js";

afterAll(removeTempDirs);

async function direct(root: string): Promise<Trace[]> {
  const out: Trace[] = [];
  for (const f of await corpusFiles(root)) out.push(...(await readAll(f.source)));
  return out;
}

describe("proof import round trip", () => {
  it("re-reads the imported corpus as proof with the same case ids, trace ids and events", async () => {
    const dir = await tempDir();
    const out = join(dir, "corpus.jsonl");
    const r = await proof(["import", AGENTDOJO_RUNS, TAU_BENCH_FILE, "-o", out], dir);
    // 53 attacked AgentDojo runs and 200 tau-bench runs each name what they skipped: the first
    // 20 warnings are printed, then the count of the rest, then the summary.
    const lines = r.stderr.split("\n");
    expect(lines).toHaveLength(23);
    expect(lines.slice(0, 20).every((l) => l.startsWith("warning: ") && l.includes(": skipped: "))).toBe(
      true,
    );
    expect(lines.slice(20)).toEqual([
      `warning: 280 more warnings not shown: proof import --explain ${AGENTDOJO_RUNS} ${TAU_BENCH_FILE} lists them all`,
      `336 traces -> ${out}`,
      "",
    ]);
    expect(r.code).toBe(0);
    const [found] = await listTraceFiles(out);
    if (!found) throw new Error("no output");
    const reread = await readAll(traceSource(found), "proof");
    const expected = [...(await direct(AGENTDOJO_RUNS)), ...(await direct(TAU_BENCH_FILE))];
    expect(reread).toHaveLength(336);
    expect(reread.map((t) => t.header.case_id)).toEqual(expected.map((t) => t.header.case_id));
    expect(reread.map((t) => t.header.trace_id)).toEqual(expected.map((t) => t.header.trace_id));
    for (const [i, t] of reread.entries()) {
      expect(t.events, t.header.case_id).toEqual(expected[i]?.events);
      expect(t.header.meta).toEqual(expected[i]?.header.meta);
      expect(t.header.source.format).toBe(expected[i]?.header.source.format);
    }
  });

  it("imports to stdout the same bytes it writes with -o, and re-imports a proof file unchanged", async () => {
    const dir = await tempDir();
    const file = join(AGENTDOJO_RUNS, "gemini-1.5-pro-002");
    const toStdout = await proof(["import", file], dir);
    expect(toStdout.code).toBe(0);
    const traces = await readAll(memorySource("x.jsonl", toStdout.stdout), "proof");
    expect(traces.length).toBeGreaterThan(10);
    await proof(["import", file, "-o", "a.jsonl"], dir);
    const again = await proof(["import", "a.jsonl", "--format", "proof"], dir);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(toStdout.stdout);
  });
});
