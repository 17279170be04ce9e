/**
 * Trials: several recordings of one case judged together, by the core (grouping, pass^k, the
 * comparison of pass rates) and end to end on tau-bench's 4 trials of each of its 50 airline tasks.
 */
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ProofError } from "../../src/errors.js";
import { prettyJson } from "../../src/io/canonical.js";
import type { Verdict } from "../../src/policy/ir.js";
import { type CaseRecord, loadBaseline, makeBaseline } from "../../src/regress/baseline.js";
import { type CompareOptions, compareWithBaseline } from "../../src/regress/compare.js";
import { passHatK, trialOf } from "../../src/regress/trials.js";
import { renderRegressMarkdown } from "../../src/report/regress.js";
import { proof, ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const RUN = {
  policies: [{ policy_id: "p.v1", policy_digest: digest("a") }],
  bundle_digest: digest("b"),
  context_digest: null,
};
const OPTS: CompareOptions = { failOn: "block", failOnRegression: "any", allowMissing: false };

/** A judged trace; a trial of `of` when `n` is given (as verify sets it from the case id or meta). */
function kase(case_id: string, verdict: Verdict, trial?: { of: string; n: number }): CaseRecord {
  return {
    case_id,
    verdict,
    rules: verdict === "allow" ? [] : ["r.x"],
    trace_id: digest("1"),
    decision_digest: digest(verdict === "allow" ? "2" : "3"),
    ...(trial ? { trial: { case_id: trial.of, trial: trial.n } } : {}),
  };
}

/** Four trials of `refund` with these verdicts. */
const refund = (...verdicts: Verdict[]) =>
  verdicts.map((v, n) => kase(`refund@${n}`, v, { of: "refund", n }));

function thrown(f: () => unknown): ProofError {
  try {
    f();
  } catch (e) {
    if (e instanceof ProofError) return e;
    throw e;
  }
  throw new Error("did not throw");
}

describe("trialOf", () => {
  it("reads tau-bench's task_id and trial, and the @N suffix of a case id", () => {
    expect(trialOf("runs.json#57", { task_id: 7, trial: 1, reward: 1 })).toEqual({
      case_id: "runs.json#task-7",
      trial: 1,
    });
    expect(trialOf("run.json", { task_id: "t-3", trial: 0 })).toEqual({
      case_id: "run.json#task-t-3",
      trial: 0,
    });
    expect(trialOf("refund@12", {})).toEqual({ case_id: "refund", trial: 12 });
    // Not trials: no task_id, a fractional trial, leading zeros, an @ in the middle.
    expect(trialOf("runs.json#3", { trial: 1 })).toBeUndefined();
    expect(trialOf("runs.json#3", { task_id: 1, trial: 1.5 })).toBeUndefined();
    expect(trialOf("refund@01", {})).toBeUndefined();
    expect(trialOf("a@1.json", {})).toBeUndefined();
  });
});

describe("passHatK", () => {
  it("is C(c,k)/C(n,k) averaged over cases, computed by hand", () => {
    const cases = [
      { passed: 3, n: 4 },
      { passed: 1, n: 4 },
    ];
    // k=1: (3/4 + 1/4) / 2; k=2: (C(3,2)/C(4,2) + 0) / 2 = (3/6) / 2; k=3: (1/4 + 0) / 2; k=4: 0.
    expect(passHatK(cases, 1)).toBeCloseTo(0.5, 12);
    expect(passHatK(cases, 2)).toBeCloseTo(0.25, 12);
    expect(passHatK(cases, 3)).toBeCloseTo(0.125, 12);
    expect(passHatK(cases, 4)).toBe(0);
    expect(passHatK(cases, 5)).toBeNull();
  });
});

describe("a baseline with trials", () => {
  it("keeps, per case, the count of trials at each verdict, in proof.baseline/v2", () => {
    const b = makeBaseline(RUN, [...refund("allow", "allow", "block", "warn"), kase("other.json", "allow")]);
    expect(b.schema).toBe("proof.baseline/v2");
    expect(Object.keys(b.cases)).toEqual(["other.json", "refund"]);
    expect(b.cases.refund).toMatchObject({
      verdict: "block",
      rules: ["r.x"],
      trials: {
        n: 4,
        verdicts: { allow: 2, warn: 1, require_approval: 0, block: 1 },
        cases: ["refund@0", "refund@1", "refund@2", "refund@3"],
      },
    });
    expect(b.cases["other.json"]).not.toHaveProperty("trials");
    expect(loadBaseline(prettyJson(b), "baseline.json")).toEqual(b);
  });

  it("serialises a single-trial case exactly as a case without trials (v1, its own case id)", () => {
    const lone = [kase("refund@0", "allow", { of: "refund", n: 0 }), kase("x.json", "block")];
    const plain = lone.map(({ trial: _, ...c }) => c);
    const b = makeBaseline(RUN, lone);
    expect(b.schema).toBe("proof.baseline/v1");
    expect(prettyJson(b)).toBe(prettyJson(makeBaseline(RUN, plain)));
    const r = compareWithBaseline(b, { ...RUN, cases: lone }, OPTS);
    expect(r).not.toHaveProperty("trials");
    expect(prettyJson(r)).toBe(prettyJson(compareWithBaseline(b, { ...RUN, cases: plain }, OPTS)));
  });

  it("refuses two traces that are the same trial, and trials whose case id is another case's", () => {
    const dup = thrown(() =>
      makeBaseline(RUN, [
        kase("a.json#0", "allow", { of: "t", n: 1 }),
        kase("a.json#1", "allow", { of: "t", n: 1 }),
      ]),
    );
    expect(dup.code).toBe("trial.duplicate");
    expect(dup.exitCode).toBe(6);
    const clash = thrown(() => makeBaseline(RUN, [...refund("allow", "allow"), kase("refund", "allow")]));
    expect(clash.code).toBe("trial.case_clash");
  });

  it("refuses trial counts that do not add up, and trials in a v1 file", () => {
    const b = makeBaseline(RUN, refund("allow", "allow", "block", "block"));
    const bad = structuredClone(b);
    if (bad.cases.refund?.trials) bad.cases.refund.trials.verdicts.allow = 3;
    const e = thrown(() => loadBaseline(JSON.stringify(bad), "baseline.json"));
    expect(e.code).toBe("baseline.invalid");
    expect(e.message).toContain("'refund'");
    const v1 = thrown(() => loadBaseline(JSON.stringify({ ...b, schema: "proof.baseline/v1" }), "b.json"));
    expect(v1.message).toContain("proof.baseline/v2");
  });
});

describe("comparing pass rates", () => {
  const BASE = makeBaseline(RUN, refund("allow", "allow", "allow", "block"));
  const compare = (cases: CaseRecord[], opts: Partial<CompareOptions> = {}) =>
    compareWithBaseline(BASE, { ...RUN, cases }, { ...OPTS, ...opts });

  it("passes when the trials are as recorded, whatever their order, and reports pass^k", () => {
    const r = compare(refund("block", "allow", "allow", "allow").reverse());
    expect(r.passed).toBe(true);
    expect(r.summary.unchanged).toBe(1);
    expect(r.trials?.pass_hat_k).toEqual([
      { k: 1, baseline: 0.75, current: 0.75 },
      { k: 2, baseline: 0.5, current: 0.5 },
      { k: 3, baseline: 0.25, current: 0.25 },
      { k: 4, baseline: 0, current: 0 },
    ]);
  });

  it("fails when one trial changes beyond the tolerance, in either direction", () => {
    const down = compare(refund("allow", "allow", "block", "block"));
    expect(down.passed).toBe(false);
    expect(down.transitions[0]).toMatchObject({ case_id: "refund", kind: "tightened", fails: true });
    expect(down.transitions[0]?.before?.trials).toEqual({
      n: 4,
      passed: 3,
      verdicts: { allow: 3, warn: 0, require_approval: 0, block: 1 },
    });
    expect(down.transitions[0]?.after?.trials?.passed).toBe(2);
    const up = compare(refund("allow", "allow", "allow", "allow"), { failOnRegression: "loosened" });
    expect(up.transitions[0]).toMatchObject({ kind: "loosened", fails: true });
    expect(renderRegressMarkdown(down)).toContain("| refund | 3/4 -> 2/4 passed |");
  });

  it("passes a move within --trials-tolerance as a change, and judges the rate, not the worst verdict", () => {
    const within = compare(refund("allow", "allow", "block", "block"), { trialsTolerance: 0.25 });
    expect(within.passed).toBe(true);
    expect(within.transitions[0]).toMatchObject({
      kind: "changed",
      changes: ["decisions", "trials"],
      fails: false,
    });
    // 5 trials with 4 passing against 3 of 4: the rate moves by 0.05.
    const five = [
      ...refund("allow", "allow", "allow", "block"),
      kase("refund@4", "allow", { of: "refund", n: 4 }),
    ];
    expect(compare(five, { trialsTolerance: 0.05 }).passed).toBe(true);
    expect(compare(five, { trialsTolerance: 0.04 }).passed).toBe(false);
    // Both passing verdicts (below block): same pass rate, other counts.
    expect(compare(refund("warn", "allow", "allow", "block")).transitions[0]).toMatchObject({
      kind: "changed",
      changes: ["decisions", "trials"],
    });
  });

  it("judges a pass by --fail-on", () => {
    const base = makeBaseline(RUN, refund("allow", "warn", "warn", "warn"));
    const now = refund("allow", "allow", "warn", "warn");
    const run = (failOn: Verdict) => compareWithBaseline(base, { ...RUN, cases: now }, { ...OPTS, failOn });
    expect(run("block").transitions[0]?.kind).toBe("changed");
    expect(run("warn").transitions[0]).toMatchObject({ kind: "loosened", fails: true });
  });
});

describe("proof regress on tau-bench's trials (built CLI)", () => {
  afterAll(removeTempDirs);
  const POLICY = join(ROOT, "fixtures/golden/airline/policy.yaml");
  const CORPUS = join(ROOT, "fixtures/corpus/tau-bench/gpt-4o-airline.json");

  it("records 4 trials of each of 50 tasks and fails on one changed trial beyond the tolerance", async () => {
    const dir = await tempDir();
    await copyFile(CORPUS, join(dir, "runs.json"));
    const common = ["--policy", POLICY, "--traces", "runs.json", "--out", "out"];
    const init = await proof(["regress", "init", ...common], dir);
    expect(init.code).toBe(0);
    const baseline = JSON.parse(await readFile(join(dir, ".proof/baseline.json"), "utf8"));
    expect(baseline.schema).toBe("proof.baseline/v2");
    const cases = Object.entries(baseline.cases) as [string, { trials: { n: number; cases: string[] } }][];
    expect(cases).toHaveLength(50);
    expect(cases.every(([, c]) => c.trials.n === 4)).toBe(true);
    // Task 0's trials are runs 0, 50, 100 and 150 of the file.
    expect(baseline.cases["runs.json#task-0"].trials.cases).toEqual([
      "runs.json#0",
      "runs.json#100",
      "runs.json#150",
      "runs.json#50",
    ]);

    const gate = ["regress", "run", ...common, "--fail-on", "require_approval"];
    const same = await proof([...gate, "--json"], dir);
    expect(same.code).toBe(0);
    const result = JSON.parse(same.stdout);
    expect(result.trials.current_cases).toBe(50);
    expect(result.trials.pass_hat_k.map((p: { k: number }) => p.k)).toEqual([1, 2, 3, 4]);
    // 158 of the 200 runs are allowed, so pass^1 is 158/200.
    expect(result.trials.pass_hat_k[0].current).toBeCloseTo(158 / 200, 12);

    // Replace one require_approval trial of a task by one of its allowed trials: one trial changes.
    const runs = JSON.parse(await readFile(join(dir, "runs.json"), "utf8")) as { traj: unknown }[];
    expect(result.transitions).toEqual([]);
    type Counts = { trials: { verdicts: Record<Verdict, number> } };
    const task = (cases as unknown as [string, Counts][]).find(
      ([, c]) => c.trials.verdicts.allow > 0 && c.trials.verdicts.require_approval > 0,
    );
    expect(task).toBeDefined();
    const id = Number(task?.[0].replace("runs.json#task-", ""));
    const report = JSON.parse(await readFile(join(dir, "out/report.json"), "utf8")) as {
      traces: { case_id: string; verdict: Verdict }[];
    };
    const trialIndex = (v: Verdict) =>
      [0, 1, 2, 3]
        .map((t) => id + 50 * t)
        .find((n) => report.traces.find((t) => t.case_id === `runs.json#${n}`)?.verdict === v) as number;
    const from = trialIndex("allow");
    const to = trialIndex("require_approval");
    (runs[to] as { traj: unknown }).traj = runs[from]?.traj;
    await writeFile(join(dir, "runs.json"), JSON.stringify(runs));

    const changed = await proof(gate, dir);
    expect(changed.code).toBe(5);
    expect(changed.stdout).toMatch(new RegExp(`loosened\\s+runs\\.json#task-${id}\\s+\\d/4 -> \\d/4 passed`));
    expect(changed.stdout).toContain("pass^1 0.790 -> 0.795");
    const regress = JSON.parse(await readFile(join(dir, "out/regress.json"), "utf8"));
    expect(regress.transitions).toHaveLength(1);

    // One trial of four moves the rate by 0.25: within a tolerance of 0.25, not of 0.2.
    expect((await proof([...gate, "--trials-tolerance", "0.25"], dir)).code).toBe(0);
    expect((await proof([...gate, "--trials-tolerance", "0.2"], dir)).code).toBe(5);
    const bad = await proof([...gate, "--trials-tolerance", "2"], dir);
    expect(bad.code).toBe(6);
    expect(bad.stderr).toContain("--trials-tolerance must be a number from 0 to 1");

    // proof run and a config file take the same tolerance.
    const wrapped = ["run", ...common, "--gate", "regress", "--fail-on", "require_approval"];
    expect(
      (await proof([...wrapped, "--trials-tolerance", "0.25", "--", process.execPath, "-e", "0"], dir)).code,
    ).toBe(0);
    expect((await proof([...wrapped, "--", process.execPath, "-e", "0"], dir)).code).toBe(5);
    await writeFile(join(dir, "proof.config.yaml"), "schema: proof.config/v1\ntrials_tolerance: 0.25\n");
    expect((await proof([...gate], dir)).code).toBe(0);
    expect((await proof([...wrapped, "--", process.execPath, "-e", "0"], dir)).code).toBe(0);
  }, 120_000);
});
