/**
 * Sharded runs and worker threads end to end (docs/ci.md, "Sharding"): the demo corpus split
 * into 1, 2 and 4 shards and merged gives the out dir of one unsharded run byte for byte (verify
 * with coverage, waivers and a signed manifest; regress run against a baseline that regressions
 * and missing cases fail), `--jobs 2` gives that of `--jobs 1`, and merge refuses parts that do
 * not make one run.
 */
import { cp, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { proof, ROOT, removeTempDirs, tempDir } from "./cli.js";

const POLICY = "examples/policies/agentdojo-banking.yaml";
const OTHER_POLICY = "examples/policies/agentdojo-slack.yaml";
const RUNS = "fixtures/corpus/agentdojo/runs";
const ONE = `${RUNS}/claude-3-5-sonnet-20241022/banking/user_task_0/important_instructions/injection_task_5.json`;

const WAIVERS = `schema: proof.waivers/v1
waivers:
  - id: SEC-101
    rule: banking.password_from_untrusted
    case: "**"
    call: { tool: update_password }
    reason: red-team cases, agent fix tracked in SEC-101
    owner: alice
    expires: 2026-12-31
  - id: SEC-102
    rule: banking.large_payment
    case: "no-such-case"
    reason: left over
    owner: bob
    expires: 2026-12-31
`;

let dir: string;
let key: string;

/** Every file of an out dir, name -> bytes. */
async function files(out: string): Promise<Map<string, Buffer>> {
  const names = (await readdir(out)).sort();
  return new Map(await Promise.all(names.map(async (n) => [n, await readFile(join(out, n))] as const)));
}

/** Asserts two out dirs hold the same files with the same bytes. */
async function expectSameDir(actual: string, expected: string): Promise<void> {
  const a = await files(actual);
  const e = await files(expected);
  expect([...a.keys()]).toEqual([...e.keys()]);
  for (const [name, bytes] of e) {
    expect({ name, same: a.get(name)?.equals(bytes) }).toEqual({ name, same: true });
  }
}

const run = (args: string[], env: Record<string, string> = {}) => proof(args, ROOT, env);

beforeAll(async () => {
  dir = await tempDir();
  await writeFile(join(dir, "waivers.yaml"), WAIVERS);
  expect((await run(["keys", "gen", "--out", join(dir, "keys")])).code).toBe(0);
  key = join(dir, "keys", "proof.key");
  // A baseline that the current run regresses against: some verdicts changed, one case missing
  // from it (new) and one case only in it (missing from the run).
  expect(
    (
      await run([
        "regress",
        "init",
        "--policy",
        POLICY,
        "--traces",
        RUNS,
        "--baseline",
        join(dir, "base.json"),
        "--out",
        join(dir, "init"),
      ])
    ).code,
  ).toBe(0);
  const baseline = JSON.parse(await readFile(join(dir, "base.json"), "utf8"));
  const ids = Object.keys(baseline.cases);
  for (const id of ids.slice(0, 6)) baseline.cases[id].verdict = "warn";
  baseline.cases["gone/case.json"] = { ...baseline.cases[ids[7] as string] };
  delete baseline.cases[ids[8] as string];
  await writeFile(join(dir, "base.json"), `${JSON.stringify(baseline, null, 2)}\n`);
});

afterAll(removeTempDirs);

const VERIFY = (out: string, ...more: string[]) => [
  "verify",
  "--policy",
  POLICY,
  "--traces",
  RUNS,
  "--out",
  out,
  "--coverage",
  "--waivers",
  join(dir, "waivers.yaml"),
  "--today",
  "2026-06-01",
  ...more,
];
const REGRESS = (out: string, ...more: string[]) => [
  "regress",
  "run",
  "--policy",
  POLICY,
  "--traces",
  RUNS,
  "--baseline",
  join(dir, "base.json"),
  "--out",
  out,
  ...more,
];

/** Runs every shard of N, then merges them; returns the merge's result. */
async function shardAndMerge(
  args: (out: string, ...more: string[]) => string[],
  name: string,
  n: number,
  sign: boolean,
) {
  const parts: string[] = [];
  for (let i = 1; i <= n; i++) {
    const part = join(dir, `${name}-${n}-part${i}`);
    const r = await run(args(part, "--shard", `${i}/${n}`, "--jobs", "1"));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    parts.push(part);
  }
  const out = join(dir, `${name}-${n}-merged${sign ? "-signed" : ""}`);
  const merged = await run(["merge", ...parts, "--out", out, ...(sign ? ["--sign-key", key] : [])]);
  return { merged, out, parts };
}

describe("proof verify --shard and proof merge", () => {
  for (const sign of [false, true]) {
    it(`merged shards of verify give the unsharded out dir byte for byte${sign ? " (signed)" : ""}`, async () => {
      const whole = join(dir, `verify-whole${sign ? "-signed" : ""}`);
      const single = await run(VERIFY(whole, "--jobs", "1", ...(sign ? ["--sign-key", key] : [])));
      expect(single.code).toBe(5);
      const report = JSON.parse(await readFile(join(whole, "report.json"), "utf8"));
      // The options really shape the artifacts: waivers applied and stale, coverage collected.
      expect(report.waivers.applied.map((w: { id: string }) => w.id)).toEqual(["SEC-101"]);
      expect(report.waivers.stale).toEqual(["SEC-102"]);
      expect(report.coverage.tool_calls).toBeGreaterThan(100);
      if (sign)
        expect(JSON.parse(await readFile(join(whole, "manifest.json"), "utf8")).signature).toBeDefined();
      for (const n of [1, 2, 4]) {
        const { merged, out } = await shardAndMerge(VERIFY, `verify${sign ? "-s" : ""}`, n, sign);
        expect(merged.code).toBe(single.code);
        expect(merged.stdout).toBe(single.stdout);
        expect(merged.stderr).toBe(single.stderr);
        await expectSameDir(out, whole);
      }
    });
  }

  for (const sign of [false, true]) {
    it(`merged shards of regress run gate the whole set against the baseline${sign ? " (signed)" : ""}`, async () => {
      const whole = join(dir, `regress-whole${sign ? "-signed" : ""}`);
      const single = await run(REGRESS(whole, "--jobs", "1", ...(sign ? ["--sign-key", key] : [])));
      expect(single.code).toBe(5);
      const result = JSON.parse(await readFile(join(whole, "regress.json"), "utf8"));
      const kinds = new Set(result.transitions.map((t: { kind: string }) => t.kind));
      expect(kinds.size).toBeGreaterThan(1);
      for (const n of [1, 2, 4]) {
        const { merged, out } = await shardAndMerge(REGRESS, `regress${sign ? "-s" : ""}`, n, sign);
        expect(merged.code).toBe(single.code);
        expect(merged.stdout).toBe(single.stdout);
        await expectSameDir(out, whole);
      }
    });
  }

  it("assigns a case to the same shard whatever else the corpus holds", async () => {
    const extra = join(dir, "extra");
    await mkdir(extra, { recursive: true });
    for (let i = 0; i < 10; i++)
      await writeFile(join(extra, `copy-${i}.json`), await readFile(join(ROOT, ONE)));
    const shard = (out: string, ...roots: string[]) =>
      run(["verify", "--policy", POLICY, "--traces", ...roots, "--out", join(dir, out), "--shard", "2/4"]);
    expect((await shard("assign-all", RUNS)).code).toBe(0);
    expect((await shard("assign-more", RUNS, extra)).code).toBe(0);
    const ids = async (out: string) =>
      JSON.parse(await readFile(join(dir, out, "shard.json"), "utf8")).cases as string[];
    const before = await ids("assign-all");
    const after = await ids("assign-more");
    expect(before.length).toBeGreaterThan(0);
    expect(after.filter((id) => !id.startsWith("copy-"))).toEqual(before);
  });

  describe("refuses parts that do not make one run (exit 6, naming the part)", () => {
    const part = (name: string, shard: string, policy = POLICY) =>
      run(["verify", "--policy", policy, "--traces", RUNS, "--out", join(dir, name), "--shard", shard]);

    beforeAll(async () => {
      for (const [name, shard, policy] of [
        ["p1of2", "1/2", POLICY],
        ["p2of2", "2/2", POLICY],
        ["p2of2-slack", "2/2", OTHER_POLICY],
        ["p2of3", "2/3", POLICY],
      ] as const) {
        expect((await part(name, shard, policy)).code).toBe(0);
      }
    });

    const merge = (...parts: string[]) =>
      run(["merge", ...parts.map((p) => join(dir, p)), "--out", join(dir, "refused"), "--json"]);

    it.each([
      ["a different policy", ["p1of2", "p2of2-slack"], "merge.policies", "p2of2-slack"],
      ["a different shard count", ["p1of2", "p2of3"], "merge.shard_count", "p2of3"],
      ["a missing shard", ["p1of2"], "merge.missing_shard", "p1of2"],
      ["a duplicate shard", ["p1of2", "p2of2", "p2of2"], "merge.duplicate_shard", "p2of2"],
    ])("%s", async (_what, parts, code, where) => {
      const r = await merge(...parts);
      expect(r.code).toBe(6);
      const error = JSON.parse(r.stdout).error;
      expect(error.code).toBe(code);
      expect(error.location.file).toContain(`${where}/shard.json`);
    });

    it("parts that read other traces (merge.traces)", async () => {
      const corpus = join(dir, "changing-corpus");
      await cp(join(ROOT, RUNS), corpus, { recursive: true });
      const shard = (name: string, spec: string) =>
        run(["verify", "--policy", POLICY, "--traces", corpus, "--out", join(dir, name), "--shard", spec]);
      expect((await shard("changing-1of2", "1/2")).code).toBe(0);
      // The corpus changes between the shards: a file more.
      await writeFile(join(corpus, "extra.json"), await readFile(join(ROOT, ONE)));
      expect((await shard("changing-2of2", "2/2")).code).toBe(0);
      const r = await merge("changing-1of2", "changing-2of2");
      expect(r.code).toBe(6);
      const error = JSON.parse(r.stdout).error;
      expect(error.code).toBe("merge.traces");
      expect(error.location.file).toContain("changing-2of2/shard.json");
    });

    it("parts run with other options (merge.options, naming the field)", async () => {
      const other = await run([
        "verify",
        "--policy",
        POLICY,
        "--traces",
        RUNS,
        "--out",
        join(dir, "p2of2-warn"),
        "--shard",
        "2/2",
        "--fail-on",
        "warn",
      ]);
      expect(other.code).toBe(0);
      const r = await merge("p1of2", "p2of2-warn");
      expect(r.code).toBe(6);
      const error = JSON.parse(r.stdout).error;
      expect(error.code).toBe("merge.options");
      expect(error.message).toContain("setup.failOn differs");
    });

    it("a directory that is no part", async () => {
      const r = await merge("p1of2", "keys");
      expect(r.code).toBe(6);
      expect(JSON.parse(r.stdout).error.code).toBe("merge.not_a_part");
    });

    it("a bad --shard", async () => {
      for (const bad of ["0/2", "3/2", "1", "a/b"]) {
        const r = await part("bad", bad);
        expect(r.code).toBe(6);
        expect(r.stderr).toContain("--shard must be I/N");
      }
    });
  });
});

describe("proof verify --jobs", () => {
  it("--jobs 2 writes the bytes of --jobs 1", async () => {
    // Enough files for two threads (src/api/pool.ts MIN_FILES_PER_WORKER): the corpus three times.
    const big = join(dir, "big");
    for (const copy of ["a", "b", "c"]) await cp(join(ROOT, RUNS), join(big, copy), { recursive: true });
    const args = (out: string, jobs: string) =>
      VERIFY(join(dir, out), "--jobs", jobs).map((a) => (a === RUNS ? big : a));
    const one = await run(args("jobs1", "1"));
    const two = await run(args("jobs2", "2"));
    // The pool really ran (PROOF_DEBUG says so on stderr, which is not compared).
    const debug = await run(args("jobs2-debug", "2"), { PROOF_DEBUG: "1" });
    expect(debug.stderr).toContain("408 trace files, judged in 2 threads (this one and 1 worker)");
    expect(one.code).toBe(5);
    expect(JSON.parse(await readFile(join(dir, "jobs1", "report.json"), "utf8")).summary.traces).toBe(
      3 * 136,
    );
    expect(two.code).toBe(one.code);
    expect(two.stdout).toBe(one.stdout);
    await expectSameDir(join(dir, "jobs2"), join(dir, "jobs1"));
    // Shards judged in threads merge into the same bytes too.
    for (const i of ["1", "2"])
      expect((await run(args(`jobs2-part${i}`, "2").concat("--shard", `${i}/2`))).code).toBe(0);
    const merged = await run([
      "merge",
      join(dir, "jobs2-part1"),
      join(dir, "jobs2-part2"),
      "--out",
      join(dir, "jobs2-merged"),
    ]);
    expect(merged.code).toBe(one.code);
    await expectSameDir(join(dir, "jobs2-merged"), join(dir, "jobs1"));
  });

  it("a bad trace fails --jobs 2 as it fails --jobs 1, located in the file", async () => {
    const traces = join(dir, "bad-traces");
    await mkdir(traces, { recursive: true });
    const good = await readFile(join(ROOT, ONE));
    for (let i = 0; i < 300; i++) {
      await writeFile(
        join(traces, `t${String(i).padStart(3, "0")}.json`),
        i === 250 || i === 270 ? "{ not json" : good,
      );
    }
    const args = (jobs: string) => [
      "verify",
      "--policy",
      POLICY,
      "--traces",
      traces,
      "--out",
      join(dir, `bad-${jobs}`),
      "--jobs",
      jobs,
    ];
    const one = await run(args("1"));
    const two = await run(args("2"));
    expect((await run(args("2"), { PROOF_DEBUG: "1" })).stderr).toContain(
      "in 2 threads (this one and 1 worker)",
    );
    expect(one.code).toBe(6);
    expect(two.code).toBe(one.code);
    expect(two.stderr).toBe(one.stderr);
    expect(one.stderr).toContain("t250.json");
  });

  it("refuses a bad --jobs", async () => {
    const r = await run(VERIFY(join(dir, "jobs-bad"), "--jobs", "0"));
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("--jobs must be");
  });
});
