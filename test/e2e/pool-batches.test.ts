/**
 * Worker threads send the cases of a long file in batches (src/api/verify-worker.ts): a JSON
 * Lines file of more traces than one batch, judged in a pool, gives the bytes of one thread.
 */
import { cp, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { listTraceFiles } from "../../src/io/files.js";
import { proof, ROOT, removeTempDirs, snapshot, tempDir } from "./cli.js";

const POLICY = "examples/policies/agentdojo-banking.yaml";
const RUNS = "fixtures/corpus/agentdojo/runs";

afterAll(removeTempDirs);

it("a JSON Lines file of several batches judged in two threads writes the bytes of one", async () => {
  const dir = await tempDir();
  const corpus = join(dir, "corpus");
  // Enough files for two threads (src/api/pool.ts MIN_FILES_PER_WORKER), and one file of 408
  // documents, more than a batch of 256 traces.
  const runs = await listTraceFiles(join(ROOT, RUNS));
  const lines: string[] = [];
  for (const copy of ["a", "b", "c"]) {
    await cp(join(ROOT, RUNS), join(corpus, copy), { recursive: true });
    for (const f of runs) lines.push(JSON.stringify(JSON.parse(await readFile(f.path, "utf8"))));
  }
  expect(lines.length).toBeGreaterThan(256);
  await writeFile(join(corpus, "many.jsonl"), `${lines.join("\n")}\n`);
  const verify = (out: string, jobs: string, env: Record<string, string> = {}) =>
    proof(
      ["verify", "--policy", POLICY, "--traces", corpus, "--out", join(dir, out), "--jobs", jobs],
      ROOT,
      env,
    );
  const one = await verify("jobs1", "1");
  const two = await verify("jobs2", "2", { PROOF_DEBUG: "1" });
  expect(two.stderr).toContain("judged in 2 threads (this one and 1 worker)");
  expect(JSON.parse(await readFile(join(dir, "jobs1", "report.json"), "utf8")).summary.traces).toBe(
    2 * lines.length,
  );
  expect(two.code).toBe(one.code);
  expect(two.stdout).toBe(one.stdout);
  expect((await readdir(join(dir, "jobs2"))).sort()).toEqual((await readdir(join(dir, "jobs1"))).sort());
  const a = await snapshot(join(dir, "jobs1"));
  const b = await snapshot(join(dir, "jobs2"));
  expect([...b.keys()]).toEqual([...a.keys()]);
  for (const [name, bytes] of a) expect(b.get(name)?.equals(bytes), name).toBe(true);
});
