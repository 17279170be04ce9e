/**
 * The pure parts of sharding and worker threads (src/api/judged.ts, src/api/shard.ts): which shard
 * a case falls in, the region texts a merge gives SARIF, and coverage added up over parts.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type KeptSource, mergeCoverage, shardOf, sourcesWithin } from "../../src/api/judged.js";
import { Judgement } from "../../src/api/pipeline.js";
import { MIN_FILES_PER_WORKER, workerCount } from "../../src/api/pool.js";
import { MAX_SHARDS, parseShard } from "../../src/api/shard.js";
import { ProofError } from "../../src/errors.js";
import { listTraceFiles } from "../../src/io/files.js";
import { loadPolicySet } from "../../src/io/policy-files.js";
import { traceSource } from "../../src/io/trace-files.js";
import { readTraces } from "../../src/trace/read.js";
import { ROOT } from "../e2e/cli.js";

describe("shardOf", () => {
  const ids = Array.from({ length: 2000 }, (_, i) => `suite/task_${i}/run.json`);

  it("is the SHA-256 of the case id modulo N, plus one", () => {
    for (const id of ids.slice(0, 50)) {
      const hex = createHash("sha256").update(id).digest("hex");
      for (const n of [1, 2, 3, 4, 7, 1000]) {
        expect(shardOf(id, n)).toBe(Number(BigInt(`0x${hex}`) % BigInt(n)) + 1);
      }
    }
  });

  it("spreads cases over the shards", () => {
    const counts = [0, 0, 0, 0];
    for (const id of ids) {
      const i = shardOf(id, 4) - 1;
      counts[i] = (counts[i] ?? 0) + 1;
    }
    for (const c of counts) expect(c).toBeGreaterThan(400);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(ids.length);
  });

  it("puts every case in shard 1 of 1", () => {
    expect(new Set(ids.map((id) => shardOf(id, 1)))).toEqual(new Set([1]));
  });
});

describe("parseShard", () => {
  it("reads I/N", () => {
    expect(parseShard("2/4")).toEqual({ index: 2, count: 4 });
    expect(parseShard(" 1/1 ")).toEqual({ index: 1, count: 1 });
    expect(parseShard(`${MAX_SHARDS}/${MAX_SHARDS}`)).toEqual({ index: MAX_SHARDS, count: MAX_SHARDS });
  });

  it.each(["0/4", "5/4", "4", "1/0", "a/b", "1/2/3", "-1/2", "01/2", `1/${MAX_SHARDS + 1}`, ""])(
    "refuses '%s' (usage.shard)",
    (bad) => {
      let caught: unknown;
      try {
        parseShard(bad);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ProofError);
      expect((caught as ProofError).code).toBe("usage.shard");
      expect((caught as ProofError).exitCode).toBe(6);
    },
  );
});

describe("sourcesWithin", () => {
  const kept = new Map<string, KeptSource>(
    [
      { path: "a.json", size: 10, text: "aaaa" },
      { path: "b.json", size: 20, text: "bbbb" },
      { path: "c.json", size: 5, text: "cccc" },
    ].map((s) => [s.path, s]),
  );

  it("takes paths in the order given, each once, while their sizes fit the budget", () => {
    const got = sourcesWithin(["b.json", "a.json", "b.json", "c.json", "missing.json"], kept, 26);
    expect([...got.keys()]).toEqual(["b.json", "c.json"]);
    expect(got.get("c.json")).toBe("cccc");
  });

  it("leaves out a path no part kept", () => {
    expect(sourcesWithin(["missing.json"], kept, 1000).size).toBe(0);
  });
});

describe("workerCount", () => {
  it("stays in one thread for one job or a small corpus", () => {
    expect(workerCount(1, 10_000)).toBe(0);
    expect(workerCount(8, 2 * MIN_FILES_PER_WORKER - 1)).toBe(0);
  });

  it("has no worker to start when run from the TypeScript sources", () => {
    expect(workerCount(4, 100 * MIN_FILES_PER_WORKER)).toBe(0);
  });
});

describe("mergeCoverage", () => {
  it("adds up the coverage of parts into that of one judgement over every trace", async () => {
    const policies = await loadPolicySet(join(ROOT, "examples/policies/agentdojo-banking.yaml"));
    const options = { context: {}, hasContext: false, failOn: "block" as const, coverage: { min: 50 } };
    const whole = new Judgement(policies, options);
    const parts = [
      new Judgement(policies, options),
      new Judgement(policies, options),
      new Judgement(policies, options),
    ];
    const root = join(ROOT, "fixtures/corpus/agentdojo/runs");
    let n = 0;
    for (const found of await listTraceFiles(root)) {
      for await (const trace of readTraces(traceSource(found), "auto")) {
        whole.verify(trace);
        (parts[n++ % parts.length] as Judgement).verify(trace);
      }
    }
    const expected = whole.coverage();
    const merged = mergeCoverage(
      policies,
      whole.activation,
      {},
      parts.map((p) => p.coverage()).filter((c) => c !== null),
      50,
    );
    expect(expected?.tool_calls).toBeGreaterThan(100);
    expect(merged).toEqual(expected);
    // A part alone covers less than the whole: the sum is what makes them equal.
    expect(parts[0]?.coverage()?.tool_calls).toBeLessThan(expected?.tool_calls ?? 0);
  });
});
