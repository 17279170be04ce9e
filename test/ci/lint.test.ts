/**
 * Static checks of the CI files: the GitHub schemas (action-validator) and shellcheck (a system
 * tool: skipped with the reason where it is missing, outside CI).
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
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

/** The repository's workflow files. */
const WORKFLOWS = readdirSync(join(ROOT, ".github", "workflows"))
  .filter((f) => f.endsWith(".yml"))
  .map((f) => `.github/workflows/${f}`)
  .sort();

describe("GitHub files validate against their schemas", () => {
  it("covers every workflow", () => {
    expect(WORKFLOWS).toEqual([
      ".github/workflows/ci.yml",
      ".github/workflows/proof-gate.yml",
      ".github/workflows/release.yml",
    ]);
  });

  for (const file of ["action/action.yml", ...WORKFLOWS]) {
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

  it("passes on the bash of every run step of the action and the workflows", async (ctx) => {
    if (NO_SHELLCHECK) ctx.skip(NO_SHELLCHECK);
    const { parse } = await import("yaml");
    const { readFile } = await import("node:fs/promises");
    interface Step {
      name?: string;
      run?: string;
      shell?: string;
    }
    const steps: { where: string; step: Step }[] = [];
    const action = parse(await readFile(join(ROOT, "action", "action.yml"), "utf8")) as {
      runs: { steps: Step[] };
    };
    for (const step of action.runs.steps) steps.push({ where: "action/action.yml", step });
    for (const file of WORKFLOWS) {
      const workflow = parse(await readFile(join(ROOT, file), "utf8")) as {
        jobs: Record<string, { steps?: Step[] }>;
      };
      for (const job of Object.values(workflow.jobs))
        for (const step of job.steps ?? []) steps.push({ where: file, step });
    }
    const dir = await tempDir();
    const files: string[] = [];
    for (const [i, { where, step }] of steps.entries()) {
      if (step.run === undefined) continue;
      // Inputs and contexts reach scripts through env only: a `${{ }}` in a script is injection.
      expect(step.run, `${where}: ${step.name ?? i}`).not.toContain("${{");
      if (step.shell !== undefined) expect(step.shell, `${where}: ${step.name ?? i}`).toBe("bash");
      const file = join(dir, `step-${i}.sh`);
      await writeFile(file, `#!/usr/bin/env bash\n${step.run}`);
      files.push(file);
    }
    expect(files.length).toBeGreaterThan(6);
    const r = await run("shellcheck", files);
    expect(r.output).toBe("");
    expect(r.code).toBe(0);
  });
});
