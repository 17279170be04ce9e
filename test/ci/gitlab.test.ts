/**
 * The GitLab template executed for real by gitlab-ci-local (a dev dependency; needs git and
 * rsync), in a temporary git repository that holds the template as .gitlab-ci.yml, a policy,
 * traces and their baseline. The job installs the package as the template does, from the tarball
 * `npm pack` makes of this repository (PROOF_PACKAGE) with npm offline, so it runs the published
 * package's scripts/proof-ci.sh and bundle, and no registry is needed.
 */
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { proof, ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";
import { offlineNpmEnv, packTarball } from "../e2e/pack.js";
import { missingTools } from "../helpers/tools.js";

import { type Exit, GITLAB_CI_LOCAL, POLICY, sh, trace } from "./gitlab-fixture.js";

/**
 * A git repository with the template, a config, the policy and two traces (one blocked), and a
 * baseline recorded from them; `loosen` then edits the policy so the blocked case is only warned,
 * which the regression gate must fail. gitlab-ci-local reads the committed files of the repository.
 */
async function repository(loosen: boolean): Promise<string> {
  const dir = await tempDir();
  await copyFile(join(ROOT, "ci-templates", "gitlab", "proof.gitlab-ci.yml"), join(dir, ".gitlab-ci.yml"));
  await mkdir(join(dir, "policies"));
  await mkdir(join(dir, "traces"));
  await writeFile(join(dir, "policies", "payments.yaml"), POLICY);
  await writeFile(join(dir, "traces", "rent.json"), trace(450));
  await writeFile(join(dir, "traces", "large.json"), trace(25000));
  await writeFile(
    join(dir, "proof.config.yaml"),
    "schema: proof.config/v1\npolicy: policies/\ntraces: [traces/]\nbaseline: .proof/baseline.json\n",
  );
  const init = await proof(["regress", "init"], dir);
  expect(init.code).toBe(0);
  if (loosen)
    await writeFile(join(dir, "policies", "payments.yaml"), POLICY.replace("effect: block", "effect: warn"));
  for (const args of [
    ["init", "-q", "-b", "main"],
    ["remote", "add", "origin", "https://gitlab.example.invalid/team/agent.git"],
    ["add", "-A"],
    ["-c", "user.name=ci", "-c", "user.email=ci@example.invalid", "commit", "-q", "-m", "proof"],
  ]) {
    const r = await sh("git", args, dir);
    expect(r.code, r.output).toBe(0);
  }
  return dir;
}

/**
 * Runs the pipeline of `dir` with the shell executor (the template sets `image:`), the job
 * installing the packed tarball offline into a temporary directory of its own.
 */
async function pipeline(dir: string): Promise<Exit> {
  const { tarball } = await packTarball();
  const env = await offlineNpmEnv();
  return sh(
    process.execPath,
    [
      GITLAB_CI_LOCAL,
      "--force-shell-executor",
      "--no-color",
      "--variable",
      `PROOF_PACKAGE=${tarball}`,
      "--variable",
      `TMPDIR=${await tempDir()}`,
    ],
    dir,
    env,
  );
}

/** Files of the job's exported artifacts (`artifacts:paths`), as GitLab would keep them. */
const artifact = (dir: string, file: string): Promise<string> =>
  readFile(join(dir, ".gitlab-ci-local", "artifacts", "proof", "proof-out", file), "utf8");

afterAll(removeTempDirs);

/** Why these tests are skipped here (gitlab-ci-local needs git and rsync), if they are. */
const NO_TOOLS = missingTools("git", "rsync");

describe("ci-templates/gitlab executed by gitlab-ci-local", () => {
  beforeEach((ctx) => {
    if (NO_TOOLS) ctx.skip(NO_TOOLS);
  });
  it("passes on an unchanged corpus: job exit 0, junit.xml and the artifacts exported", async () => {
    const dir = await repository(false);
    const run = await pipeline(dir);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/PASS\s+proof/);
    expect(run.output).toContain("proof-ci: gate passed (exit 0)");
    // The published package was installed and run: no registry, no placeholder.
    expect(run.output).toMatch(/added 1 package/);
    expect(run.output).not.toMatch(/ETARGET|E404|ENOTCACHED/);
    expect(JSON.parse(await artifact(dir, "status.json"))).toEqual({ code: 0, phase: "gate" });
    const junit = await artifact(dir, "junit.xml");
    expect(junit).toContain('name="rent.json"');
    expect(junit).toContain('name="large.json"');
    for (const f of ["report.json", "regress.json", "summary.md", "results.sarif", "manifest.json"]) {
      expect((await artifact(dir, f)).length, f).toBeGreaterThan(0);
    }
  });

  it("fails on a loosened policy: job exit 5, pipeline failed, artifacts still exported", async () => {
    const dir = await repository(true);
    const run = await pipeline(dir);
    expect(run.code, run.output).not.toBe(0);
    expect(run.output).toMatch(/FAIL 5\b/);
    expect(run.output).toMatch(/FAIL\s+proof/);
    expect(JSON.parse(await artifact(dir, "status.json"))).toEqual({ code: 5, phase: "gate" });
    const regress = JSON.parse(await artifact(dir, "regress.json")) as {
      transitions: Array<{ case_id: string; kind: string; fails: boolean }>;
    };
    expect(regress.transitions).toContainEqual(
      expect.objectContaining({ case_id: "large.json", kind: "loosened", fails: true }),
    );
    expect(await artifact(dir, "junit.xml")).toContain('name="large.json"');
  });
});
