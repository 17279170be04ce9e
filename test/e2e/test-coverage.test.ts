/**
 * `proof test --coverage` end to end: the built CLI on the example policies (every rule fires and
 * every condition is seen true and false) and on a two-rule policy whose coverage is worked out by
 * hand.
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
  - id: no_delete
    match:
      tool: [delete_all]
    effect: block
`;

// The first case's earlier send_money of 500 is context only: a `call` case covers its call, so
// big_payment never fires and its amount matcher is seen false only.
const TESTS = `schema: proof.test/v1
cases:
  - name: a small payment after a big one is allowed
    events:
      - { type: message, role: user, content: "pay twice" }
      - { type: tool_call, tool: send_money, args: { amount: 500 } }
    call: { tool: send_money, args: { amount: 5 } }
    expect: { verdict: allow, rules: [] }
  - name: deleting everything is blocked
    call: { tool: delete_all }
    expect: { verdict: block, rules: [no_delete] }
`;

let dir = "";

beforeAll(async () => {
  dir = await tempDir();
  await mkdir(join(dir, "policies"));
  await writeFile(join(dir, "policies", "cover.yaml"), POLICY);
  await writeFile(join(dir, "policies", "cover.test.yaml"), TESTS);
});

const test = (...extra: string[]) => proof(["test", "policies", ...extra], dir);

describe("proof test --coverage", () => {
  it("passes at 100% on the example policies", async () => {
    const r = await proof(["test", "examples/policies", "--coverage", "--min-coverage", "100"], ROOT);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^coverage: 100% of outcomes \((\d+)\/\1\) \(minimum 100%\); .*no dead rule$/m);
  });

  it("counts only what the cases decide: 2 of 4 outcomes on a tiny policy", async () => {
    // big_payment never fired (0 of 1), no_delete fired (1 of 1), big_payment's amount matcher
    // was false once and never true (1 of 2): 2 of 4 outcomes, 50%, over 2 decided calls.
    const r = await test("--coverage", "--out", "out");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("PASS: 2/2\ncoverage: 50% of outcomes (2/4); rules fired 1/2; dead: big_payment\n");
    const coverage = JSON.parse(await readFile(join(dir, "out", "coverage.json"), "utf8"));
    expect(coverage).toMatchObject({
      schema: "proof.coverage/v1",
      tool_calls: 2,
      outcomes: { covered: 2, total: 4, percent: 50 },
      rules: { covered: 1, total: 2, percent: 50 },
      conditions: { covered: 1, total: 2, percent: 50 },
      min_percent: null,
      passed: true,
      dead: ["big_payment"],
    });
    expect(coverage.policies[0].rules[0]).toEqual({
      id: "big_payment",
      active: true,
      evaluated: 1,
      fired: 0,
      errors: 0,
      conditions: [{ condition: "args.amount", true: 0, false: 1 }],
    });
    const schema = JSON.parse(await readFile(join(ROOT, "schemas", "coverage.schema.json"), "utf8"));
    expect(new Ajv({ strict: false }).compile(schema)(coverage)).toBe(true);
    const files = await snapshot(join(dir, "out"));
    expect([...files.keys()].sort()).toEqual(["coverage.json", "junit.xml"]);
  });

  it("puts the coverage document in --json", async () => {
    const r = await proof(["--json", "test", "policies", "--min-coverage", "50"], dir);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.summary).toEqual({ cases: 2, passed: 2, failed: 0 });
    expect(doc.coverage).toMatchObject({ outcomes: { covered: 2, total: 4 }, min_percent: 50, passed: true });
  });

  it("exits 5 below --min-coverage although every case passes", async () => {
    const r = await test("--min-coverage", "51");
    expect(r.code).toBe(5);
    expect(r.stdout).toContain("PASS: 2/2\n");
    expect(r.stdout).toContain("coverage: 50% of outcomes (2/4), below the minimum 51%;");
  });

  it("refuses a --min-coverage that is not a percentage (exit 6), writing nothing", async () => {
    for (const bad of ["101", "abc", ""]) {
      const r = await test(`--min-coverage=${bad}`, "--out", "bad");
      expect(r.code, bad).toBe(6);
      expect(r.stderr).toContain("--min-coverage must be a percentage");
      expect((await snapshot(dir)).has("bad/junit.xml")).toBe(false);
    }
  });

  it("writes no coverage.json and no coverage line without --coverage", async () => {
    const r = await test("--out", "plain");
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("coverage");
    const files = await snapshot(join(dir, "plain"));
    expect(files.has("coverage.json")).toBe(false);
  });
});
