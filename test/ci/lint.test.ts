/**
 * Static checks of the CI files: the GitHub schemas (action-validator) and shellcheck (a system
 * tool: skipped with the reason where it is missing, outside CI).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";
import { missingTools } from "../helpers/tools.js";

afterAll(removeTempDirs);

/** Runs a program and resolves with its exit code and output (never rejects on a non-zero exit). */
function run(file: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: ROOT, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") reject(err);
      else resolve({ code: err ? (err.code as number) : 0, output: stdout + stderr });
    });
  });
}

/** `@action-validator/cli` (WebAssembly, works offline), run with this Node. */
const VALIDATOR = join(ROOT, "node_modules", "@action-validator", "cli", "cli.mjs");

describe("GitHub files validate against their schemas", () => {
  for (const file of ["action/action.yml", ".github/workflows/proof-gate.yml", ".github/workflows/ci.yml"]) {
    it(file, async () => {
      const r = await run(process.execPath, [VALIDATOR, file]);
      expect(r.output).toBe("");
      expect(r.code).toBe(0);
    });
  }

  it("and the validator does reject an invalid workflow", async () => {
    const bad = join(await tempDir(), "bad.yml");
    await writeFile(bad, "name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n");
    expect((await run(process.execPath, [VALIDATOR, bad])).code).not.toBe(0);
  });
});

/** Every shell script of the repository: scripts/*.sh, .ci/run, and ci-templates' scripts, if any. */
async function shellScripts(): Promise<string[]> {
  const found = (await readdir(join(ROOT, "scripts")))
    .filter((f) => f.endsWith(".sh"))
    .map((f) => `scripts/${f}`);
  found.push(".ci/run");
  if (existsSync(join(ROOT, "ci-templates"))) {
    const entries = await readdir(join(ROOT, "ci-templates"), { recursive: true, withFileTypes: true });
    for (const e of entries)
      if (e.isFile() && e.name.endsWith(".sh"))
        found.push(join(e.parentPath, e.name).slice(ROOT.length).replace(/^\//, ""));
  }
  return found.sort();
}

/** Why the shellcheck tests are skipped here (shellcheck missing outside CI), if they are. */
const NO_SHELLCHECK = missingTools("shellcheck");

describe("shellcheck", () => {
  it("passes on every shell script", async (ctx) => {
    if (NO_SHELLCHECK) ctx.skip(NO_SHELLCHECK);
    const scripts = await shellScripts();
    expect(scripts).toContain("scripts/proof-ci.sh");
    const r = await run("shellcheck", ["--shell=bash", ...scripts]);
    expect(r.output).toBe("");
    expect(r.code).toBe(0);
  });

  it("passes on the bash of the action's run steps", async (ctx) => {
    if (NO_SHELLCHECK) ctx.skip(NO_SHELLCHECK);
    const { parse } = await import("yaml");
    const { readFile } = await import("node:fs/promises");
    const action = parse(await readFile(join(ROOT, "action", "action.yml"), "utf8")) as {
      runs: { steps: { run?: string }[] };
    };
    const dir = await tempDir();
    const files: string[] = [];
    for (const [i, step] of action.runs.steps.entries()) {
      if (step.run === undefined) continue;
      const file = join(dir, `step-${i}.sh`);
      await writeFile(file, `#!/usr/bin/env bash\n${step.run}`);
      files.push(file);
    }
    expect(files.length).toBeGreaterThan(2);
    const r = await run("shellcheck", files);
    expect(r.output).toBe("");
    expect(r.code).toBe(0);
  });
});
