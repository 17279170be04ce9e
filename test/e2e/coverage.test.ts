/**
 * `proof verify --coverage` end to end: the built CLI on a two-rule policy and two traces, whose
 * coverage is worked out by hand.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { proof, ROOT, removeTempDirs, snapshot, tempDir } from "./cli.js";

afterAll(removeTempDirs);

const POLICY = `schema: proof.policy/v1
policy_id: cover.v1
rules:
  - id: big_payment
    match:
      tool: [send_money]
      args: { amount: { gt: 100 } }
    effect: warn
  - id: never_called
    match:
      tool: [delete_all]
    effect: block
`;

/** An OpenAI chat trace with one send_money call. */
function payment(amount: number): string {
  return JSON.stringify({
    messages: [
      { role: "user", content: "pay" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "c1",
            type: "function",
            function: { name: "send_money", arguments: JSON.stringify({ amount }) },
          },
        ],
      },
    ],
  });
}

let dir = "";

beforeAll(async () => {
  dir = await tempDir();
  await writeFile(join(dir, "policy.yaml"), POLICY);
  await mkdir(join(dir, "traces"));
  await writeFile(join(dir, "traces", "big.json"), payment(500));
  await writeFile(join(dir, "traces", "small.json"), payment(5));
});

const verify = (...extra: string[]) =>
  proof(["verify", "--policy", "policy.yaml", "--traces", "traces", ...extra], dir);

async function json(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(dir, path), "utf8")) as Record<string, unknown>;
}

async function validator(schema: string) {
  return new Ajv({ strict: false }).compile(
    JSON.parse(await readFile(join(ROOT, "schemas", schema), "utf8")),
  );
}

describe("proof verify --coverage", () => {
  it("writes coverage.json, the report member and the summary section: 3 of 4 outcomes", async () => {
    // big_payment fired (1 of 1) and its amount matcher was true once and false once (2 of 2);
    // never_called never fired (0 of 1): 3 of 4 outcomes, 75%.
    const r = await verify("--coverage", "--out", "out");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("coverage: 75% of outcomes (3/4); rules fired 1/2; dead: never_called");
    const coverage = await json("out/coverage.json");
    expect(coverage).toMatchObject({
      schema: "proof.coverage/v1",
      tool_calls: 2,
      outcomes: { covered: 3, total: 4, percent: 75 },
      rules: { covered: 1, total: 2, percent: 50 },
      conditions: { covered: 2, total: 2, percent: 100 },
      min_percent: null,
      passed: true,
      dead: ["never_called"],
    });
    expect((await validator("coverage.schema.json"))(coverage)).toBe(true);
    const report = await json("out/report.json");
    expect(report.coverage).toEqual(coverage);
    expect((await validator("report.schema.json"))(report)).toBe(true);
    const summary = await readFile(join(dir, "out/summary.md"), "utf8");
    expect(summary).toContain("### Coverage: 75%");
    expect(summary).toContain("Dead rules (never fired): `never_called`.");
    const manifest = (await json("out/manifest.json")) as { files: Record<string, string> };
    expect(Object.keys(manifest.files)).toContain("coverage.json");
  });

  it("fails the run with exit 5 below --min-coverage, and passes at it", async () => {
    const below = await verify("--min-coverage", "80", "--out", "below");
    expect(below.code).toBe(5);
    expect(below.stdout).toContain("Gate failed (coverage 75% below the minimum 80%).");
    expect(await json("below/status.json")).toEqual({ phase: "gate", code: 5 });
    expect(await json("below/coverage.json")).toMatchObject({ min_percent: 80, passed: false });
    const summary = await readFile(join(dir, "below/summary.md"), "utf8");
    expect(summary.startsWith("## proof verify: failed\n")).toBe(true);
    expect(summary).toContain("### Coverage: 75%, below the minimum 80%");
    const at = await verify("--min-coverage", "75%", "--out", "at");
    expect(at.code).toBe(0);
  });

  it("refuses a --min-coverage that is not a percentage (exit 6)", async () => {
    for (const bad of ["120", "-1", "abc", ""]) {
      const r = await verify(`--min-coverage=${bad}`, "--out", "bad");
      expect(r.code, bad).toBe(6);
      expect(r.stderr).toContain("--min-coverage must be a percentage");
    }
  });

  it("writes no coverage without --coverage", async () => {
    const r = await verify("--out", "plain");
    expect(r.code).toBe(0);
    const files = await snapshot(join(dir, "plain"));
    expect(files.has("coverage.json")).toBe(false);
    expect((await json("plain/report.json")).coverage).toBeUndefined();
  });

  it("writes byte-identical coverage artifacts when run twice", async () => {
    await verify("--coverage", "--out", "one");
    await verify("--coverage", "--out", "two");
    expect(await snapshot(join(dir, "two"))).toEqual(await snapshot(join(dir, "one")));
  });
});
