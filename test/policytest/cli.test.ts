import { readFileSync } from "node:fs";
import { copyFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { proof, ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";

afterAll(removeTempDirs);

const POLICY = join(ROOT, "examples/policies/agentdojo-banking.yaml");

/** A directory holding the banking policy as `banking.yaml` and `banking.test.yaml` with `text`. */
async function withTest(text: string): Promise<string> {
  const dir = await tempDir();
  await copyFile(POLICY, join(dir, "banking.yaml"));
  await writeFile(join(dir, "banking.test.yaml"), text);
  return dir;
}

const FAILING = `schema: proof.test/v1
cases:
  - name: large payments pass
    call: { tool: send_money, args: { recipient: GB29NWBK60161331926819, amount: 20000 } }
    expect: { verdict: allow, rules: [] }
  - name: small payments pass
    call: { tool: send_money, args: { recipient: GB29NWBK60161331926819, amount: 5 } }
    expect: { verdict: allow }
`;

describe("proof test", () => {
  it("passes the tests of every example policy (each rule a positive and a negative case)", async () => {
    const r = await proof(["test", "examples/policies"], ROOT);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^PASS: (\d+)\/\1$/m);
    // Every rule of every example policy is named by a case that expects it: in an expected rule
    // list of its own, or beside the rules that must match with it (a rule on injected content
    // never matches without the one on untrusted content).
    for (const name of ["agentdojo-banking", "agentdojo-slack", "airline", "lksg.v1"]) {
      const policy = readFileSync(join(ROOT, `examples/policies/${name}.yaml`), "utf8");
      const tests = readFileSync(join(ROOT, `examples/policies/${name}.test.yaml`), "utf8");
      const expected = [...tests.matchAll(/rules: \[([^\]]*)\]/g)].map((m) => (m[1] ?? "").split(/,\s*/));
      for (const [, id] of policy.matchAll(/^ {2}- id: (\S+)/gm)) {
        expect(expected.some((list) => list.includes(id as string))).toBe(true);
      }
    }
  });

  it("keeps *.test.yaml out of a policy directory given to verify", async () => {
    const out = join(await tempDir(), "out");
    const r = await proof(
      ["verify", "--policy", "examples/policies", "--traces", "examples/traces/lksg", "--out", out],
      ROOT,
    );
    expect(r.stderr).not.toContain("test.yaml");
    expect([0, 5]).toContain(r.code);
  });

  it("exits 5 on a failing case and names expected vs actual with the decision's reasons", async () => {
    const dir = await withTest(FAILING);
    const r = await proof(["test", "."], dir);
    expect(r.code).toBe(5);
    expect(r.stdout).toContain("FAIL banking.test.yaml:3:5: large payments pass");
    expect(r.stdout).toContain("verdict: expected allow, got require_approval");
    expect(r.stdout).toContain("rules: expected [], got [banking.large_payment]");
    expect(r.stdout).toContain(
      "send_money: require_approval by banking.large_payment (reasons large_payment)",
    );
    expect(r.stdout).not.toContain("small payments pass");
    expect(r.stdout).toMatch(/^PASS: 1\/2\nFAIL: 1\/2\n$/m);
    const verbose = await proof(["test", "-v", "banking.test.yaml"], dir);
    expect(verbose.stdout).toContain("PASS banking.test.yaml:6:5: small payments pass");
  });

  it("reports --json and writes junit.xml with --out", async () => {
    const dir = await withTest(FAILING);
    const r = await proof(["--json", "test", "--out", "results"], dir);
    expect(r.code).toBe(5);
    const doc = JSON.parse(r.stdout);
    expect(doc.summary).toEqual({ cases: 2, passed: 1, failed: 1 });
    expect(doc.cases[0]).toMatchObject({
      name: "large payments pass",
      passed: false,
      verdict: "require_approval",
    });
    expect(doc.cases[0].decisions[0].reasons).toEqual(["large_payment"]);
    const junit = readFileSync(join(dir, "results", "junit.xml"), "utf8");
    expect(junit).toContain('<testsuite name="banking.test.yaml" tests="2" failures="1" errors="0">');
    expect(junit).toContain('<failure message="verdict: expected allow, got require_approval">');
    expect(junit).toContain(
      '<testcase name="small payments pass" classname="banking.test.yaml" file="banking.test.yaml" line="6"/>',
    );
  });

  it("exits 6 with file:line:column for an unknown key in a test file", async () => {
    const dir = await withTest(
      "schema: proof.test/v1\ncases:\n  - name: x\n    call: { tool: send_money }\n    expect: { verdcit: allow }\n",
    );
    const r = await proof(["--json", "test"], dir);
    expect(r.code).toBe(6);
    const err = JSON.parse(r.stdout).error;
    expect(err.code).toBe("test.unknown_key");
    expect(err.location).toEqual({ file: "banking.test.yaml", line: 5, column: 15 });
  });

  it("exits 6, located at the event, for an invalid inline event", async () => {
    const dir = await withTest(
      "schema: proof.test/v1\ncases:\n  - name: x\n    events:\n      - { type: message, content: hi }\n    expect: { verdict: allow }\n",
    );
    const r = await proof(["--json", "test"], dir);
    expect(r.code).toBe(6);
    const err = JSON.parse(r.stdout).error;
    expect(err.code).toBe("trace.invalid_event");
    expect(err.location).toEqual({ file: "banking.test.yaml", line: 5, column: 9 });
  });

  it("exits 6 when the policy beside the test file is missing, and when no test file is found", async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, "gone.test.yaml"),
      "schema: proof.test/v1\ncases:\n  - name: x\n    call: { tool: t }\n    expect: { verdict: allow }\n",
    );
    const missing = await proof(["test"], dir);
    expect(missing.code).toBe(6);
    expect(missing.stderr).toContain("gone.yaml");
    const empty = await tempDir();
    const none = await proof(["--json", "test", "."], empty);
    expect(none.code).toBe(6);
    expect(JSON.parse(none.stdout).error.code).toBe("test.none");
  });

  it("proof init writes a passing test beside the starter policy", async () => {
    for (const template of ["generic", "payments"]) {
      const dir = await tempDir();
      const init = await proof(["--quiet", "init", "--template", template], dir);
      expect(init.code).toBe(0);
      const r = await proof(["test", "policies"], dir);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("PASS: 2/2\n");
    }
  });
});
