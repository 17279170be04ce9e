/**
 * The conformance property (test/trace/conformance.ts) over the real AgentDojo runs, the real
 * tau-bench trajectory file and every canonical proof trace in the fixtures: each content-bearing
 * string leaf is in the canonical events or named by a warning. The structure predicates are as
 * narrow as the formats allow: each names full addresses, and a comment says why they are not
 * content.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { unaccounted } from "./conformance.js";
import {
  AGENTDOJO_RUNS,
  corpusFiles,
  FORMAT_FIXTURES,
  loadSource,
  ROOT,
  readAll,
  TAU_BENCH_FILE,
} from "./helpers.js";

/**
 * AgentDojo: the run's identifiers (suite, pipeline = model name, task ids, attack name) are kept
 * in the header's meta; the version and timestamp keys of newer runs describe the benchmark;
 * roles, call ids and content-block types are structure of every chat format.
 */
function agentdojoStructure(at: string): boolean {
  return (
    /^(suite_name|pipeline_name|user_task_id|injection_task_id|attack_type|benchmark_version|agentdojo_package_version|evaluation_timestamp)$/.test(
      at,
    ) ||
    /^messages\[\d+\]\.role$/.test(at) ||
    /^messages\[\d+\]\.(tool_call_id|tool_call\.id|tool_calls\[\d+\]\.id)$/.test(at) ||
    /^messages\[\d+\]\.content\[\d+\]\.type$/.test(at)
  );
}

/** tau-bench: `traj` is chat-completions messages; roles, call ids and `type: "function"` are structure. */
function tauBenchStructure(at: string): boolean {
  return (
    /^\[\d+\]\.traj\[\d+\]\.(role|tool_call_id)$/.test(at) ||
    /^\[\d+\]\.traj\[\d+\]\.tool_calls\[\d+\]\.(id|type)$/.test(at)
  );
}

/**
 * Canonical proof traces: the header's identifiers and `meta` are kept verbatim in the trace
 * header (test/trace/proof.test.ts checks the round trip), and each event's type, role, call id
 * and source address are structure of the canonical model.
 */
function proofStructure(at: string): boolean {
  return (
    /^lines\[\d+\]\.(type|trace_id|case_id|role|call_id|at)$/.test(at) ||
    /^lines\[\d+\]\.source\.(format|file)$/.test(at) ||
    /^lines\[\d+\]\.meta(\.|\[|$)/.test(at)
  );
}

/** Every canonical trace file of the fixtures: the format goldens and the golden scenarios'. */
function canonicalFixtures(): string[] {
  const out: string[] = [];
  for (const format of readdirSync(FORMAT_FIXTURES, { withFileTypes: true })) {
    if (!format.isDirectory()) continue;
    const expected = join(FORMAT_FIXTURES, format.name, "expected");
    try {
      for (const f of readdirSync(expected)) if (f.endsWith(".jsonl")) out.push(join(expected, f));
    } catch {
      // A format without goldens yet.
    }
  }
  out.push(join(ROOT, "fixtures/golden/escaping/traces/recorded.jsonl"));
  return out;
}

describe("conformance: every content field is mapped or warned about", () => {
  it("holds for every AgentDojo run of the corpus", async () => {
    const files = await corpusFiles(AGENTDOJO_RUNS);
    expect(files).toHaveLength(136);
    for (const f of files) {
      const traces = await readAll(f.source, "agentdojo");
      expect({
        file: f.rel,
        lost: unaccounted(loadSource(f.path), traces, (at) => agentdojoStructure(at)),
      }).toEqual({
        file: f.rel,
        lost: [],
      });
    }
  });

  it("holds for the 200 tau-bench runs", async () => {
    const [f] = await corpusFiles(TAU_BENCH_FILE);
    if (!f) throw new Error("corpus file missing");
    const traces = await readAll(f.source, "tau-bench");
    expect(traces).toHaveLength(200);
    expect(unaccounted(loadSource(f.path), traces, (at) => tauBenchStructure(at))).toEqual([]);
  });

  it("holds for every canonical proof trace of the fixtures", async () => {
    const files = canonicalFixtures();
    expect(files.length).toBeGreaterThan(1);
    for (const path of files) {
      const [f] = await corpusFiles(path);
      if (!f) throw new Error(`${path} missing`);
      const traces = await readAll(f.source, "proof");
      expect({ file: path, lost: unaccounted(loadSource(path), traces, (at) => proofStructure(at)) }).toEqual(
        {
          file: path,
          lost: [],
        },
      );
    }
  });
});
