/** `proof init` in an empty git repository, then the command it prints (docs/ci.md). */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
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
      ".gitignore",
      ".proof/baseline.json",
      "policies/payments.test.yaml",
      "policies/payments.yaml",
      "proof.config.yaml",
      "traces/sample.json",
    ]);
    expect(await readFile(join(dir, ".gitignore"), "utf8")).toBe("proof-out/\n");
    // The package's own name: `npx proof` would run another project's npm package `proof`.
    const next = /run the gate as CI will: npx proof-gate (.+)$/m.exec(init.stdout)?.[1];
    expect(next).toBe("regress run");
    expect(init.stdout).not.toMatch(/npx proof /);
    // The boundary features exist: the output shows how to use them, and calls nothing "planned".
    expect(init.stdout).not.toMatch(/planned/i);
    expect(init.stdout).toContain(
      "npx proof-gate mcp proxy --policy policies/payments.yaml --record traces/mcp-session.jsonl --",
    );
    expect(init.stdout).toMatch(/SDK guard \(createGuard\)/);
    // The documentation it points to ships in the package.
    const docs = /^Documentation: (.+)\/ \(/m.exec(init.stdout)?.[1] ?? "";
    for (const doc of ["ci.md", "traces.md", "boundary.md"]) {
      expect(existsSync(join(isAbsolute(docs) ? docs : join(dir, docs), doc)), doc).toBe(true);
    }

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
  it("adds proof-out/ to an existing .gitignore once, keeping its lines, and says so", async () => {
    const dir = await emptyRepository();
    // No final newline, CRLF line ends: the entry goes on a line of its own after them.
    await writeFile(join(dir, ".gitignore"), "node_modules/\r\n*.log");
    const init = await proof(["init"], dir);
    expect(init.code, init.stderr).toBe(0);
    expect(await readFile(join(dir, ".gitignore"), "utf8")).toBe("node_modules/\r\n*.log\nproof-out/\n");
    expect(init.stdout).toMatch(/^Updated:\n {2}\.gitignore \(ignores proof-out\/, /m);
    expect(init.stdout).not.toMatch(/^ {2}\.gitignore$/m);

    const again = await proof(["--json", "init", "--force"], dir);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ updated: [] });
    expect(await readFile(join(dir, ".gitignore"), "utf8")).toBe("node_modules/\r\n*.log\nproof-out/\n");
  });

  it("leaves a .gitignore that ignores the out dir already as it is", async () => {
    for (const line of ["proof-out", "/proof-out/", "proof-out/  "]) {
      const dir = await emptyRepository();
      await writeFile(join(dir, ".gitignore"), `dist/\n${line}\n`);
      const init = await proof(["--json", "init"], dir);
      expect(init.code, init.stderr).toBe(0);
      expect(JSON.parse(init.stdout)).toMatchObject({ updated: [] });
      expect(JSON.parse(init.stdout).created).not.toContain(".gitignore");
      expect(await readFile(join(dir, ".gitignore"), "utf8")).toBe(`dist/\n${line}\n`);
    }
    // A negation after it un-ignores the directory: the entry is added again.
    const dir = await emptyRepository();
    await writeFile(join(dir, ".gitignore"), "proof-out/\n!proof-out/\n");
    expect((await proof(["init"], dir)).code).toBe(0);
    expect(await readFile(join(dir, ".gitignore"), "utf8")).toBe("proof-out/\n!proof-out/\nproof-out/\n");
  });

  it("refuses a .gitignore that is no regular file before writing anything: exit 6", async () => {
    const dir = await emptyRepository();
    await writeFile(join(dir, "elsewhere"), "x\n");
    await symlink("elsewhere", join(dir, ".gitignore"));
    const init = await proof(["--json", "init"], dir);
    expect(init.code).toBe(6);
    expect(JSON.parse(init.stdout)).toMatchObject({ error: { code: "init.gitignore" } });
    expect([...(await files(dir)).keys()].sort()).toEqual(["elsewhere"]);
  });
});
