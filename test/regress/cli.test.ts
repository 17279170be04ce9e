/**
 * `proof regress` end to end: the built CLI (`npm run build` first) on real AgentDojo runs copied
 * into temporary directories, with the example banking policy and edited copies of it.
 */
import { copyFile, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { proof, ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";

const POLICY = join(ROOT, "examples/policies/agentdojo-banking.yaml");
const RUNS = join(ROOT, "fixtures/corpus/agentdojo/runs");
/** Case id -> corpus run, with the verdicts the example policy gives them. */
const CORPUS: Record<string, string> = {
  // allow: read the injected bill, paid nothing.
  "resisted.json":
    "claude-3-5-sonnet-20241022/banking/user_task_0/important_instructions/injection_task_5.json",
  // allow: a benign run.
  "benign.json": "claude-3-5-sonnet-20241022/banking/user_task_7/none/none.json",
  // block: banking.password_from_untrusted.
  "password.json":
    "claude-3-5-sonnet-20241022/banking/user_task_12/important_instructions/injection_task_7.json",
  // block: banking.payee_from_untrusted.
  "payee.json": "claude-3-5-sonnet-20241022/banking/user_task_2/important_instructions/injection_task_4.json",
  // block: banking.large_payment (require_approval) and banking.payee_from_untrusted (block).
  "gemini/large.json": "gemini-1.5-pro-002/banking/user_task_1/important_instructions/injection_task_5.json",
};

interface Transition {
  case_id: string;
  kind: string;
  before: { verdict: string } | null;
  after: { verdict: string } | null;
  fails: boolean;
}
interface RegressResult {
  schema: string;
  passed: boolean;
  policy_change: { impact: Transition[] } | null;
  transitions: Transition[];
}

let dir: string;

/** The example policy with one edit applied to its text. */
async function policyWith(name: string, edit: (text: string) => string): Promise<string> {
  const text = await readFile(POLICY, "utf8");
  const edited = edit(text);
  expect(edited).not.toBe(text);
  await writeFile(join(dir, name), edited);
  return name;
}

/** Loosened: a payee from untrusted content only warns (block -> warn). */
const loosened = () =>
  policyWith("loosened.yaml", (t) =>
    t.replace(
      /effect: block(\s+severity: critical\s+reason: payee_from_untrusted_content)/,
      "effect: warn$1",
    ),
  );
/** Tightened: a call no rule matches warns instead of being allowed. */
const tightened = () => policyWith("tightened.yaml", (t) => t.replace("verdict: allow", "verdict: warn"));

const regress = (sub: string, ...args: string[]) =>
  proof(["regress", sub, "--traces", "traces", ...args], dir);
const init = (...args: string[]) => regress("init", "--policy", POLICY, ...args);
const run = (...args: string[]) => regress("run", "--policy", POLICY, ...args);

async function regressJson(out = "proof-out"): Promise<RegressResult> {
  return JSON.parse(await readFile(join(dir, out, "regress.json"), "utf8"));
}

beforeEach(async () => {
  dir = await tempDir();
  for (const [caseId, run] of Object.entries(CORPUS)) {
    await mkdir(join(dir, "traces", caseId, ".."), { recursive: true });
    await copyFile(join(RUNS, run), join(dir, "traces", caseId));
  }
});

afterAll(removeTempDirs);

describe("proof regress init", () => {
  it("records every case, canonical and byte-identical when recorded again", async () => {
    const r = await init();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Recorded 5 cases (2 allow, 0 warn, 0 require_approval, 3 block)");
    const text = await readFile(join(dir, ".proof/baseline.json"), "utf8");
    const baseline = JSON.parse(text);
    expect(baseline.schema).toBe("proof.baseline/v1");
    expect(Object.keys(baseline.cases)).toEqual(Object.keys(CORPUS).sort());
    expect(baseline.cases["payee.json"]).toMatchObject({
      verdict: "block",
      rules: ["banking.payee_from_untrusted"],
    });
    expect(text).toBe(`${JSON.stringify(baseline, null, 2)}\n`);
    expect(text).not.toContain(dir);
    // init refuses to replace a baseline; --force does, with the same bytes.
    expect((await init()).code).toBe(6);
    expect((await init("--force")).code).toBe(0);
    expect(await readFile(join(dir, ".proof/baseline.json"), "utf8")).toBe(text);
  });

  it("an empty traces directory exits 6 and writes no baseline", async () => {
    await rm(join(dir, "traces"), { recursive: true });
    await mkdir(join(dir, "traces"));
    const r = await init("--baseline", "b.json");
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("no traces found");
    await expect(readFile(join(dir, "b.json"))).rejects.toThrow();
  });
});

describe("proof regress run", () => {
  it("an unchanged corpus exits 0 although it holds blocked cases", async () => {
    expect((await init()).code).toBe(0);
    const r = await run();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("5 cases: 5 unchanged");
    expect(r.stdout.trimEnd().split("\n").at(-1)).toBe("Regression gate passed.");
    const result = await regressJson();
    expect(result.passed).toBe(true);
    expect(result.transitions).toEqual([]);
    expect(JSON.parse(await readFile(join(dir, "proof-out/status.json"), "utf8"))).toEqual({
      phase: "gate",
      code: 0,
    });
  });

  it("a loosened policy exits 5 and names each loosened case", async () => {
    expect((await init()).code).toBe(0);
    const r = await regress("run", "--policy", await loosened());
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/loosened\s+payee\.json\s+block -> warn/);
    expect(r.stdout).toMatch(/loosened\s+gemini\/large\.json\s+block -> require_approval/);
    const result = await regressJson();
    expect(result.transitions.map((t) => [t.case_id, t.kind, t.fails])).toEqual([
      ["gemini/large.json", "loosened", true],
      ["payee.json", "loosened", true],
    ]);
    const summary = await readFile(join(dir, "proof-out/summary.md"), "utf8");
    expect(summary.startsWith("## proof regress: failed")).toBe(true);
    expect(summary).toContain("| ❌ | loosened | payee\\.json | block -> warn |");
    // The verdicts of the run follow the regression section, which alone says passed or failed.
    expect(summary).toContain("## Verdicts of this run");
    expect(summary).not.toMatch(/proof verify: (passed|failed)/);
    expect(JSON.parse(await readFile(join(dir, "proof-out/status.json"), "utf8")).code).toBe(5);
  });

  it("a tightened policy exits 5 with --fail-on-regression any and 0 with loosened", async () => {
    expect((await init()).code).toBe(0);
    const policy = await tightened();
    const any = await regress("run", "--policy", policy);
    expect(any.code).toBe(5);
    expect(any.stdout).toMatch(/tightened\s+benign\.json\s+allow -> warn/);
    expect(any.stdout).toMatch(/tightened\s+resisted\.json\s+allow -> warn/);
    const loose = await regress("run", "--policy", policy, "--fail-on-regression", "loosened");
    expect(loose.code).toBe(0);
    const transitions = (await regressJson()).transitions;
    expect(transitions.filter((t) => t.kind === "tightened").map((t) => [t.case_id, t.fails])).toEqual([
      ["benign.json", false],
      ["resisted.json", false],
    ]);
    // The blocked cases keep their verdict; their other calls now warn: changed, never failing.
    expect(
      transitions.filter((t) => t.kind !== "tightened").map((t) => [t.case_id, t.kind, t.fails]),
    ).toEqual([
      ["gemini/large.json", "changed", false],
      ["password.json", "changed", false],
      ["payee.json", "changed", false],
    ]);
    expect((await regress("run", "--policy", policy, "--fail-on-regression", "some")).code).toBe(6);
  });

  it("a deleted trace file exits 5, and 0 with --allow-missing", async () => {
    expect((await init()).code).toBe(0);
    await rm(join(dir, "traces/benign.json"));
    const r = await run();
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/missing\s+benign\.json\s+allow -> -/);
    expect((await run("--allow-missing")).code).toBe(0);
    expect((await regressJson()).transitions).toMatchObject([
      { case_id: "benign.json", kind: "missing", fails: false },
    ]);
  });

  it("a renamed trace file is a missing case plus a new one, and accept keeps no stale key", async () => {
    expect((await init()).code).toBe(0);
    await rename(join(dir, "traces/password.json"), join(dir, "traces/password-renamed.json"));
    const r = await run();
    expect(r.code).toBe(5);
    const result = await regressJson();
    expect(result.transitions.map((t) => [t.case_id, t.kind, t.fails])).toEqual([
      ["password-renamed.json", "new", true],
      ["password.json", "missing", true],
    ]);
    expect((await regress("accept", "--policy", POLICY)).code).toBe(0);
    const baseline = JSON.parse(await readFile(join(dir, ".proof/baseline.json"), "utf8"));
    expect(Object.keys(baseline.cases)).toContain("password-renamed.json");
    expect(Object.keys(baseline.cases)).not.toContain("password.json");
    expect((await run()).code).toBe(0);
  });

  it("re-recording a trace with new call ids but the same behaviour is not a regression", async () => {
    expect((await init()).code).toBe(0);
    const file = join(dir, "traces/payee.json");
    const run0 = JSON.parse(await readFile(file, "utf8")) as { messages: Record<string, unknown>[] };
    const fresh = (id: string) => `rerecorded_${id.split("").reverse().join("")}`;
    let renamed = 0;
    for (const m of run0.messages) {
      for (const tc of (m.tool_calls as { id: string }[] | null) ?? []) {
        tc.id = fresh(tc.id);
        renamed++;
      }
      if (m.role === "tool") {
        m.tool_call_id = fresh(m.tool_call_id as string);
        const call = m.tool_call as { id: string } | undefined;
        if (call) call.id = fresh(call.id);
      }
    }
    expect(renamed).toBeGreaterThan(0);
    await writeFile(file, JSON.stringify(run0, null, 1));
    const r = await run();
    expect(r.code).toBe(0);
    expect((await regressJson()).transitions).toEqual([]);
  });

  it("an empty traces directory, a missing or an invalid baseline exit 6 naming the file", async () => {
    const missing = await run("--baseline", "nope.json");
    expect(missing.code).toBe(6);
    expect(missing.stderr).toContain("nope.json");
    await writeFile(join(dir, "bad.json"), JSON.stringify({ schema: "proof.baseline/v1", cases: {} }));
    const invalid = await run("--baseline", "bad.json", "--json");
    expect(invalid.code).toBe(6);
    const envelope = JSON.parse(invalid.stdout);
    expect(envelope.error).toMatchObject({ code: "baseline.invalid", location: { file: "bad.json" } });
    expect((await init()).code).toBe(0);
    await rm(join(dir, "traces"), { recursive: true });
    await mkdir(join(dir, "traces"));
    expect((await run()).code).toBe(6);
  });

  it("accept after a loosening change rewrites the baseline, prints what changed, then run exits 0", async () => {
    expect((await init()).code).toBe(0);
    const policy = await loosened();
    expect((await regress("run", "--policy", policy)).code).toBe(5);
    const accepted = await regress("accept", "--policy", policy);
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toMatch(/loosened\s+payee\.json\s+block -> warn/);
    expect(accepted.stdout).toContain("Rewrote .proof/baseline.json: review and commit it.");
    const after = await regress("run", "--policy", policy);
    expect(after.code).toBe(0);
    expect(after.stdout).not.toContain("Policy changed");
    // Accepting again changes nothing.
    expect((await regress("accept", "--policy", policy)).stdout).toContain(
      "Baseline .proof/baseline.json unchanged.",
    );
  });

  it("a policy change is reported first, with every verdict transition as its impact", async () => {
    expect((await init()).code).toBe(0);
    // Loosen the payee rule and tighten the default at once: both directions in one change.
    const policy = await policyWith("both.yaml", (t) =>
      t
        .replace(
          /effect: block(\s+severity: critical\s+reason: payee_from_untrusted_content)/,
          "effect: warn$1",
        )
        .replace("verdict: allow", "verdict: warn"),
    );
    const r = await regress("run", "--policy", policy, "--json");
    expect(r.code).toBe(5);
    const result = JSON.parse(r.stdout) as RegressResult;
    expect(result.schema).toBe("proof.regress/v1");
    const schema = JSON.parse(await readFile(join(ROOT, "schemas/regress.schema.json"), "utf8"));
    const validate = new Ajv({ strict: false }).compile(schema);
    expect(validate(result)).toBe(true);
    const impact = result.policy_change?.impact.map((t) => [t.case_id, t.before?.verdict, t.after?.verdict]);
    expect(impact).toEqual([
      ["benign.json", "allow", "warn"],
      ["gemini/large.json", "block", "require_approval"],
      ["payee.json", "block", "warn"],
      ["resisted.json", "allow", "warn"],
    ]);
    // The readable output says so before anything else and lists each transition.
    const text = await regress("run", "--policy", policy);
    const lines = text.stdout.split("\n");
    expect(lines[0]).toMatch(
      /^Policy changed since the baseline \(bundle sha256:[0-9a-f]{64} -> sha256:[0-9a-f]{64}\): 4 verdict transitions\.$/,
    );
    for (const id of ["benign.json", "gemini/large.json", "payee.json", "resisted.json"])
      expect(lines.some((l) => /^(loosened|tightened)\s/.test(l) && l.includes(` ${id} `))).toBe(true);
    const summary = await readFile(join(dir, "proof-out/summary.md"), "utf8");
    expect(summary.indexOf("The policy changed since the baseline")).toBeGreaterThan(-1);
    expect(summary.indexOf("The policy changed since the baseline")).toBeLessThan(
      summary.indexOf("| loosened |"),
    );
  });
});
