/**
 * The worker pool hands out files out of file order (src/api/pool-queue.ts FileQueue: workers take the
 * large files first, then from the back, while this thread judges from the front), yet a run
 * with two or three threads writes the bytes of one, and fails on the first bad file in file
 * order, as one thread does.
 */
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { listTraceFiles } from "../../src/io/files.js";
import { proof, ROOT, removeTempDirs, snapshot, tempDir } from "./cli.js";

const POLICY = "examples/policies/agentdojo-banking.yaml";
const RUNS = "fixtures/corpus/agentdojo/runs";

let dir: string;
/** The run's documents, one JSON line each. */
let lines: string[];

beforeAll(async () => {
  dir = await tempDir();
  lines = [];
  for (const f of await listTraceFiles(join(ROOT, RUNS))) {
    lines.push(JSON.stringify(JSON.parse(await readFile(f.path, "utf8"))));
  }
});

afterAll(removeTempDirs);

const verify = (traces: string, out: string, jobs: string, env: Record<string, string> = {}) =>
  proof(
    ["verify", "--policy", POLICY, "--traces", traces, "--out", join(dir, out), "--jobs", jobs, "--coverage"],
    ROOT,
    env,
  );

it("a large file between small ones, judged in two and three threads, gives the bytes of one", async () => {
  // Listed in the order a/, b-many.jsonl, c/, d/: enough files for three threads
  // (MIN_FILES_PER_WORKER), and the JSON Lines file holds more than 1/24 of the bytes, so a
  // worker takes it first, while this thread starts on a/.
  const corpus = join(dir, "corpus");
  for (const copy of ["a", "c", "d"]) await cp(join(ROOT, RUNS), join(corpus, copy), { recursive: true });
  await writeFile(join(corpus, "b-many.jsonl"), `${[...lines, ...lines].join("\n")}\n`);
  const one = await verify(corpus, "jobs1", "1");
  expect(one.code).toBe(5);
  const a = await snapshot(join(dir, "jobs1"));
  expect(JSON.parse(a.get("report.json")?.toString() ?? "{}").summary.traces).toBe(5 * lines.length);
  for (const jobs of ["2", "3"]) {
    const many = await verify(corpus, `jobs${jobs}`, jobs, { PROOF_DEBUG: "1" });
    expect(many.stderr).toContain(`judged in ${jobs} threads`);
    expect(many.code).toBe(one.code);
    expect(many.stdout).toBe(one.stdout);
    const b = await snapshot(join(dir, `jobs${jobs}`));
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, bytes] of a) expect(b.get(name)?.equals(bytes), `${name}, --jobs ${jobs}`).toBe(true);
  }
});

it("fails on the first bad file in file order, though a worker judged a later bad one first", async () => {
  // t100.json is bad, and so is the large file at the end, which a worker takes first.
  const traces = join(dir, "bad");
  await mkdir(traces, { recursive: true });
  const good = lines[0] as string;
  for (let i = 0; i < 400; i++) {
    await writeFile(join(traces, `t${String(i).padStart(3, "0")}.json`), i === 100 ? "{ not json" : good);
  }
  await writeFile(join(traces, "z-many.jsonl"), `${[...lines, ...lines, "{ not json"].join("\n")}\n`);
  const one = await verify(traces, "bad1", "1");
  expect(one.code).toBe(6);
  expect(one.stderr).toContain("t100.json");
  for (const jobs of ["2", "3"]) {
    const many = await verify(traces, `bad${jobs}`, jobs, { PROOF_DEBUG: "1" });
    expect(many.stderr).toContain(`judged in ${jobs} threads`);
    expect(many.code).toBe(one.code);
    expect(many.stderr.replace(/^proof: debug: .*\n/m, "")).toBe(one.stderr);
  }
});
