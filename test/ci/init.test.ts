/** `proof init` in an empty git repository, then the command it prints (docs/ci.md). */
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { proof, ROOT, removeTempDirs, snapshot, tempDir } from "../e2e/cli.js";

/** An empty git repository. */
async function emptyRepository(): Promise<string> {
  const dir = await tempDir();
  await new Promise<void>((resolve, reject) =>
    execFile("git", ["init", "-q"], { cwd: dir }, (err) => (err ? reject(err) : resolve())),
  );
  return dir;
}

/** The files of a directory without git's own. */
async function files(dir: string): Promise<Map<string, Buffer>> {
  const all = await snapshot(dir);
  for (const k of [...all.keys()]) if (k.startsWith(".git/")) all.delete(k);
  return all;
}

afterAll(removeTempDirs);

describe("proof init", () => {
  it("writes a gate whose printed next command passes and judges the sample trace", async () => {
    const dir = await emptyRepository();
    const init = await proof(["init", "--template", "payments"], dir);
    expect(init.code, init.stderr).toBe(0);
    expect([...(await files(dir)).keys()].sort()).toEqual([
      ".github/workflows/proof.yml",
      ".proof/baseline.json",
      "policies/payments.yaml",
      "proof.config.yaml",
      "traces/sample.json",
    ]);
    const next = /run the gate as CI will: npx proof (.+)$/m.exec(init.stdout)?.[1];
    expect(next).toBe("regress run");
    expect(init.stdout).toMatch(/MCP proxy.*planned/);
    expect(init.stdout).toMatch(/SDK guard.*planned/);

    const gate = await proof((next ?? "").split(" "), dir);
    expect(gate.code, gate.stderr).toBe(0);
    const report = JSON.parse(await readFile(join(dir, "proof-out", "report.json"), "utf8")) as {
      traces: Array<{ case_id: string; verdict: string; rules: string[] }>;
    };
    expect(report.traces).toEqual([
      expect.objectContaining({
        case_id: "sample.json",
        verdict: "require_approval",
        rules: ["payments.large_payment"],
      }),
    ]);
    const regress = JSON.parse(await readFile(join(dir, "proof-out", "regress.json"), "utf8")) as {
      summary: { unchanged: number };
    };
    expect(regress.summary.unchanged).toBe(1);
  });

  it("records the baseline exactly as proof regress init does", async () => {
    const dir = await emptyRepository();
    expect((await proof(["init"], dir)).code).toBe(0);
    const written = await readFile(join(dir, ".proof", "baseline.json"), "utf8");
    const again = await proof(["regress", "init", "--force"], dir);
    expect(again.code, again.stderr).toBe(0);
    expect(await readFile(join(dir, ".proof", "baseline.json"), "utf8")).toBe(written);
    expect(written).toContain('"sample.json"');
  });

  it("refuses to overwrite: exit 6 naming the file, nothing changed; --force overwrites", async () => {
    const dir = await emptyRepository();
    expect((await proof(["init", "--ci", "gitlab"], dir)).code).toBe(0);
    const before = await files(dir);
    expect(before.get(".gitlab-ci.yml")?.toString()).toBe(
      await readFile(join(ROOT, "ci-templates", "gitlab", "proof.gitlab-ci.yml"), "utf8"),
    );
    const second = await proof(["init", "--ci", "gitlab", "--template", "payments"], dir);
    expect(second.code).toBe(6);
    expect(second.stderr).toContain("proof.config.yaml");
    expect(await files(dir)).toEqual(before);

    const json = await proof(["--json", "init", "--ci", "gitlab"], dir);
    expect(json.code).toBe(6);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "init.exists" } });

    const forced = await proof(["init", "--ci", "gitlab", "--template", "payments", "--force"], dir);
    expect(forced.code, forced.stderr).toBe(0);
    expect((await files(dir)).has("policies/payments.yaml")).toBe(true);
  });

  it("refuses when only the workflow exists, and writes each CI system's template", async () => {
    for (const [ci, path, source] of [
      ["jenkins", "Jenkinsfile", "ci-templates/jenkins/Jenkinsfile"],
      ["circleci", ".circleci/config.yml", "ci-templates/circleci/config.yml"],
      ["github", ".github/workflows/proof.yml", "templates/init/github/proof.yml"],
    ] as const) {
      const dir = await emptyRepository();
      expect((await proof(["init", "--ci", ci], dir)).code).toBe(0);
      expect(await readFile(join(dir, path), "utf8")).toBe(await readFile(join(ROOT, source), "utf8"));
      const other = await emptyRepository();
      await mkdir(join(other, path, ".."), { recursive: true });
      await writeFile(join(other, path), "mine\n");
      const refused = await proof(["init", "--ci", ci], other);
      expect(refused.code).toBe(6);
      expect(refused.stderr).toContain(path);
      expect([...(await files(other)).keys()]).toEqual([path]);
    }
  });
});
