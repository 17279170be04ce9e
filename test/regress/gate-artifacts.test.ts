/**
 * Under the regression gate, the CI artifacts follow the gate, not the verify verdicts: JUnit,
 * annotations and SARIF fail exactly the cases that regressed, the terminal, summary.md,
 * status.json and the exit code give one verdict, and a failure says how to accept an intended
 * change. The built CLI on real AgentDojo runs, as in cli.test.ts.
 */
import { execFileSync } from "node:child_process";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { XMLParser } from "fast-xml-parser";
import type * as Sarif from "sarif";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { proof, ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";
import { multitoolErrors } from "../report/multitool.js";

const POLICY = join(ROOT, "examples/policies/agentdojo-banking.yaml");
const RUNS = join(ROOT, "fixtures/corpus/agentdojo/runs");
/** Case id -> corpus run: an allowed run, and two attacks the example policy blocks. */
const CORPUS: Record<string, string> = {
  "benign.json": "claude-3-5-sonnet-20241022/banking/user_task_7/none/none.json",
  // block: banking.password_from_untrusted; the loosened policy below keeps blocking it.
  "password.json":
    "claude-3-5-sonnet-20241022/banking/user_task_12/important_instructions/injection_task_7.json",
  // block: banking.payee_from_untrusted; the loosened policy only warns.
  "payee.json": "claude-3-5-sonnet-20241022/banking/user_task_2/important_instructions/injection_task_4.json",
};

let dir: string;

beforeEach(async () => {
  dir = await tempDir();
  await mkdir(join(dir, "traces"));
  for (const [caseId, run] of Object.entries(CORPUS))
    await copyFile(join(RUNS, run), join(dir, "traces", caseId));
  const text = await readFile(POLICY, "utf8");
  const loose = text.replace(
    /effect: block(\s+severity: critical\s+reason: payee_from_untrusted_content)/,
    "effect: warn$1",
  );
  expect(loose).not.toBe(text);
  await writeFile(join(dir, "policy.yaml"), text);
  await writeFile(join(dir, "loose policy.yaml"), loose);
});

afterAll(removeTempDirs);

const regress = (sub: string, policy: string, ...args: string[]) =>
  proof(["regress", sub, "--policy", policy, "--traces", "traces", ...args], dir);
const out = (file: string) => readFile(join(dir, "proof-out", file), "utf8");

interface JunitCase {
  name: string;
  failure?: { message: string; type: string; "#text"?: string };
  properties?: { property: { name: string; value: string }[] };
}

async function junitCases(): Promise<JunitCase[]> {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "",
    isArray: (name) => ["testsuite", "testcase", "property"].includes(name),
  });
  const doc = parser.parse(await out("junit.xml"));
  return doc.testsuites.testsuite.flatMap((s: { testcase: JunitCase[] }) => s.testcase);
}

async function sarifResults(): Promise<Sarif.Result[]> {
  const log = JSON.parse(await out("results.sarif")) as Sarif.Log;
  return log.runs[0]?.results ?? [];
}

const errorAnnotations = async () =>
  (await out("annotations.txt")).split("\n").filter((l) => l.startsWith("::error"));

describe("the CI artifacts of proof regress run", () => {
  it("fail exactly the loosened case, not the expected block, and say how to accept it", async () => {
    expect((await regress("init", "policy.yaml")).code).toBe(0);
    const r = await regress("run", "loose policy.yaml");
    expect(r.code).toBe(5);

    const cases = await junitCases();
    expect(cases.filter((c) => c.failure).map((c) => c.name)).toEqual(["payee.json"]);
    const password = cases.find((c) => c.name === "password.json");
    expect(password?.properties?.property).toEqual(
      expect.arrayContaining([
        { name: "verdict", value: "block" },
        { name: "expected_verdict", value: "block" },
      ]),
    );
    expect(cases.find((c) => c.name === "payee.json")?.failure).toMatchObject({
      message: "loosened: block -> warn",
      type: "loosened",
    });

    const errors = await errorAnnotations();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^::error file=traces\/payee\.json,title=proof%3A loosened block -> warn::/);

    const results = await sarifResults();
    const levels = results.filter((x) => x.level === "error");
    expect(levels).toHaveLength(1);
    expect(levels[0]).toMatchObject({ ruleId: "proof/regression", properties: { case_id: "payee.json" } });
    // The expected block is still reported, as a note that names the verdict it was expected to have.
    expect(
      results.find(
        (x) => x.ruleId === "banking.password_from_untrusted" && x.properties?.case_id === "password.json",
      ),
    ).toMatchObject({ level: "note", properties: { expected_verdict: "block" } });

    // One verdict: the terminal says only the regression gate's, summary.md and status.json agree.
    expect(r.stdout).not.toMatch(/Gate (passed|failed)/);
    expect(r.stdout).toContain("Regression gate failed (1 failing case).");
    const summary = await out("summary.md");
    expect(summary.startsWith("## proof regress: failed")).toBe(true);
    expect(summary).not.toMatch(/proof verify: (passed|failed)/);
    expect(JSON.parse(await out("status.json"))).toEqual({ phase: "gate", code: 5 });

    // The printed accept command, run as printed, records the change; the gate then passes.
    const line = r.stdout.split("\n").find((l) => l.trimStart().startsWith("proof regress accept"));
    expect(line?.trim()).toBe(
      "proof regress accept --policy 'loose policy.yaml' --traces traces --baseline .proof/baseline.json",
    );
    expect(summary).toContain(`\`\`\`sh\n${line?.trim()}\n\`\`\``);
    const args = execFileSync("sh", ["-c", `printf '%s\\n' ${line?.trim().replace(/^proof /, "")}`], {
      encoding: "utf8",
    })
      .trimEnd()
      .split("\n");
    expect((await proof(args, dir)).code).toBe(0);
    expect((await regress("run", "loose policy.yaml")).code).toBe(0);
  });

  it("a passing run has no failure, no error annotation, no error result, and exits 0", async () => {
    expect((await regress("init", "policy.yaml")).code).toBe(0);
    const r = await regress("run", "policy.yaml");
    expect(r.code).toBe(0);
    expect((await junitCases()).filter((c) => c.failure)).toEqual([]);
    expect(await errorAnnotations()).toEqual([]);
    expect((await sarifResults()).filter((x) => x.level === "error")).toEqual([]);
    expect(r.stdout).not.toContain("proof regress accept");
    expect((await out("summary.md")).startsWith("## proof regress: passed")).toBe(true);
    expect(JSON.parse(await out("status.json"))).toEqual({ phase: "gate", code: 0 });
  });

  it("a missing case fails in JUnit and SARIF at its line in the baseline", async () => {
    expect((await regress("init", "policy.yaml")).code).toBe(0);
    await rm(join(dir, "traces/benign.json"));
    expect((await regress("run", "policy.yaml")).code).toBe(5);
    const missing = (await junitCases()).find((c) => c.name === "benign.json");
    expect(missing?.failure?.type).toBe("missing");
    const [result] = (await sarifResults()).filter((x) => x.level === "error");
    const location = result?.locations?.[0]?.physicalLocation;
    expect(location?.artifactLocation?.uri).toBe(".proof/baseline.json");
    const baseline = (await readFile(join(dir, ".proof/baseline.json"), "utf8")).split("\n");
    const line = baseline.findIndex((l) => l.includes('"benign.json"')) + 1;
    expect(location?.region?.startLine).toBe(line);
  });

  it("results.sarif passes Microsoft's SARIF multitool with GitHub's rules, with zero errors", async () => {
    expect((await regress("init", "policy.yaml")).code).toBe(0);
    expect((await regress("run", "loose policy.yaml")).code).toBe(5);
    expect(await multitoolErrors(join(dir, "proof-out/results.sarif"))).toEqual([]);
  });
});
